"""In-process stand-ins for the deployments, behind the same typed protocols as the real clients.

Validation and policy are the real pipeline code (the shipped policy with its rule layers, plus a
test term); only the model is scripted: it "generates" a given answer in deltas, which is what the
serving logic (ordering, screening, streaming, errors) needs to be tested without a cluster.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from pipelines.audit import AuditConfig, AuditRecord
from pipelines.audit.store import AuditStore
from pipelines.core.errors import ServiceError
from pipelines.core.types import GenerationRequest, GenerationResult, ModerationInput
from pipelines.engine.continuous import StreamEvent
from pipelines.inputs.validation import (
    ValidationLimits,
    validate_chat_request,
    validate_legacy_request,
    validate_moderation_input,
)
from pipelines.moderation.moderator import Moderator
from pipelines.moderation.policy.config import Action, load_policy
from pipelines.moderation.policy.engine import PolicyDecision
from pipelines.moderation.setup import policy_digest
from pipelines.moderation.text.layers import LayersConfig
from serve_app.api.protocol import ModerationStats, PolicyInfo
from serve_app.serving.admin import describe_policy, stats_response, stats_window

ROOT = Path(__file__).resolve().parents[3]
BLOCKED_TERM = "zorblax"  # the test policy blocks it in outputs (custom category)
# What the fake's moderator runs: the rule layers only (no classifier, no image screens)
RULE_LAYERS_ONLY = LayersConfig.model_validate(
    {
        "classifier": {"enabled": False},
        "image": {
            "read": {"text": {"ocr": {"enabled": False}, "codes": {"enabled": False}}, "nsfw": {"enabled": False}}
        },
    }
)


class FakeValidator:
    def __init__(self, limits: ValidationLimits | None = None) -> None:
        self.limits = limits or ValidationLimits(resize_max_pixels=None, resize_min_pixels=None)

    async def validate_chat(
        self, *, messages: list[dict[str, Any]], params: dict[str, Any], request_id: str
    ) -> GenerationRequest:
        return validate_chat_request(messages, params, self.limits, request_id)

    async def validate_legacy(
        self, *, image: str | None, prompt: str, max_tokens: int | None, temperature: float | None, request_id: str
    ) -> GenerationRequest:
        return validate_legacy_request(image, prompt, max_tokens, self.limits, request_id, temperature)

    async def validate_moderation(self, *, value: Any, request_id: str) -> list[ModerationInput]:
        return validate_moderation_input(value, self.limits)


class _ScriptedStream:
    def __init__(self, events: list[StreamEvent | BaseException], delay_s: float) -> None:
        self.events = events
        self.delay_s = delay_s
        self.cancelled = False

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[StreamEvent]:
        for event in self.events:
            if self.cancelled:
                return
            await asyncio.sleep(self.delay_s)
            if isinstance(event, BaseException):
                raise event
            yield event

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class FakeModel:
    """Answers every request with ``answer`` (streamed ``chunk`` characters at a time), or fails with
    ``error`` (a ``ServiceError``: a per-request failure)."""

    answer: str = "A sturdy canvas tote bag with leather handles."
    chunk: int = 4
    error: ServiceError | None = None
    fail_stream_after: int | None = None  # raise a transport error after this many events
    delay_s: float = 0.0
    seen: list[GenerationRequest] = field(default_factory=list)
    streams: list[_ScriptedStream] = field(default_factory=list)

    def _result(self, request: GenerationRequest) -> GenerationResult:
        return GenerationResult(request.request_id, self.answer, "stop", 7, len(self.answer.split()), 1)

    async def generate(self, *, request: GenerationRequest) -> GenerationResult:
        self.seen.append(request)
        if self.error is not None:
            raise self.error
        return self._result(request)

    def stream(self, *, request: GenerationRequest) -> _ScriptedStream:
        self.seen.append(request)
        rid = request.request_id
        events: list[StreamEvent | BaseException] = [
            StreamEvent(rid, self.answer[i : i + self.chunk]) for i in range(0, len(self.answer), self.chunk)
        ]
        events.append(StreamEvent(rid, "", self.error if self.error is not None else self._result(request)))
        if self.fail_stream_after is not None:
            events = [*events[: self.fail_stream_after], RuntimeError("replica connection lost")]
        stream = _ScriptedStream(events, self.delay_s)
        self.streams.append(stream)
        return stream

    async def model_info(self) -> dict[str, Any]:
        return {"ready": True, "model": "fake", "revision": None, "quantization": "none", "version": "fake@1"}


class FakePolicy:
    """The real Moderator on the shipped policy (rule layers only) plus a blocked output term. ``audit_store``
    (in-memory SQLite) holds what ``record`` is given, for the stats route; ``now`` is the stats' clock."""

    def __init__(self, extra_output_term: str = BLOCKED_TERM, audit_config: AuditConfig | None = None) -> None:
        policy = load_policy(ROOT / "configs" / "policy.yaml").with_extra_terms("custom", [extra_output_term])
        categories = dict(policy.categories)
        categories["custom"] = categories["custom"].model_copy(update={"output": Action.block})
        self.moderator = Moderator(policy.model_copy(update={"categories": categories}))
        self.checks: list[tuple[str, str, bool]] = []  # (direction, text, partial)
        self.audit_config = audit_config or AuditConfig(url="sqlite://")
        self.audit_store = AuditStore("sqlite://", max_query_limit=self.audit_config.max_query_limit)
        self.now = datetime.now(UTC)

    def record(self, *records: AuditRecord) -> None:
        self.audit_store.write(records)

    async def check_input(
        self,
        *,
        text: str,
        request_id: str,
        images: Sequence[Image.Image] = (),
        image_sources: Sequence[str | None] = (),
    ) -> PolicyDecision:
        self.checks.append(("input", text, False))
        return self.moderator.check(text, "input", request_id, images=images)

    async def check_output(
        self, *, text: str, request_id: str, prompt: str | None, partial: bool = False, all_layers: bool = False
    ) -> PolicyDecision:
        self.checks.append(("output", text, partial))
        return self.moderator.check(text, "output", request_id, prompt=prompt, partial=partial, all_layers=all_layers)

    async def decisions(self, *, query: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        return [], None

    async def stats(self, *, query: dict[str, Any]) -> ModerationStats:
        window = stats_window(query, self.audit_config, self.now)
        return stats_response(self.audit_store.stats(window), query["bucket"])

    async def describe_policy(self) -> PolicyInfo:
        policy = self.moderator.policy
        return describe_policy(policy, RULE_LAYERS_ONLY, policy_digest(policy, RULE_LAYERS_ONLY))

    async def policy_version(self) -> str:
        return self.moderator.policy.version

    async def health(self) -> dict[str, Any]:
        return {
            "policy_version": self.moderator.policy.version,
            "audit": {"ok": True, "pending": 0, "last_error": None},
            "audit_fail_mode": "fail_open",
        }
