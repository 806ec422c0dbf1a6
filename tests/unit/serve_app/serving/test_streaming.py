"""Screened streaming with in-process backends: what reaches the client, and when it stops."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines.core.errors import OverloadedError
from pipelines.moderation.moderator import Moderator
from pipelines.moderation.policy.config import Action, Policy
from pipelines.moderation.policy.engine import PolicyDecision
from pipelines.moderation.text.guard import GuardConfig
from pipelines.moderation.text.layers import CascadeConfig, GuardLayer, GuardLayerConfig
from serve_app.api.gateway import Gateway
from serve_app.api.protocol import ChatCompletionRequest
from serve_app.config import IngressUserConfig
from tests.unit.serve_app.conftest import MODEL_NAME
from tests.unit.serve_app.fakes import BLOCKED_TERM, FakeModel, FakePolicy, FakeValidator
from tests.unit.serve_app.serving.test_chat import chat_body


def events(gateway: Gateway, text: str, **fields: object) -> list[dict | str]:
    async def collect() -> list[str]:
        stream = await gateway.chat.chat_stream(chat_body(text, stream=True, **fields), "rid-s")
        return [event async for event in stream]

    parsed: list[dict | str] = []
    for raw in asyncio.run(collect()):
        for frame in raw.strip().split("\n\n"):
            payload = frame.removeprefix("data: ")
            parsed.append(payload if payload == "[DONE]" else json.loads(payload))
    return parsed


def content(frames: list[dict | str]) -> str:
    return "".join(
        f["choices"][0]["delta"].get("content") or ""
        for f in frames
        if isinstance(f, dict) and f.get("choices") and "delta" in f["choices"][0]
    )


def test_a_stream_has_the_role_chunk_the_screened_text_the_end_chunk_usage_and_done(
    gateway: Callable[..., Gateway],
) -> None:
    frames = events(gateway(stream_hold_back_chars=8), "Describe a tote bag.", stream_options={"include_usage": True})
    first, *_, end, usage, done = frames
    assert first["choices"][0]["delta"]["role"] == "assistant" and "prompt_filter_results" in first
    assert content(frames) == FakeModel().answer
    assert end["choices"][0]["finish_reason"] == "stop" and "content_filter_results" in end["choices"][0]
    assert usage["choices"] == [] and usage["usage"]["total_tokens"] > 0
    assert done == "[DONE]"


def test_a_blocked_term_split_across_deltas_never_reaches_the_client(
    gateway: Callable[..., Gateway], model: FakeModel
) -> None:
    model.answer = f"Here is a long and friendly answer about bags that mentions {BLOCKED_TERM} near the end."
    model.chunk = 3
    frames = events(gateway(stream_hold_back_chars=48), "Describe a tote bag.")
    released = content(frames)
    assert BLOCKED_TERM[:3] not in released.split("mentions")[-1]
    assert BLOCKED_TERM not in json.dumps(frames)
    assert frames[-2]["choices"][0]["finish_reason"] == "content_filter"
    assert model.streams[-1].cancelled  # the generation was stopped


def test_without_hold_back_text_flows_as_it_arrives(gateway: Callable[..., Gateway], model: FakeModel) -> None:
    model.chunk = 2
    frames = events(gateway(stream_hold_back_chars=0), "Describe a tote bag.")
    deltas = [f for f in frames if isinstance(f, dict) and f["choices"] and f["choices"][0]["delta"].get("content")]
    assert len(deltas) > 5 and content(frames) == model.answer


def test_a_failure_mid_stream_is_an_error_event_then_done(gateway: Callable[..., Gateway], model: FakeModel) -> None:
    model.fail_stream_after = 3
    frames = events(gateway(stream_hold_back_chars=0), "Describe a tote bag.")
    error, done = frames[-2:]
    assert done == "[DONE]"
    assert error["error"]["code"] == "internal_error" and "replica connection" not in json.dumps(error)
    model.fail_stream_after, model.error = None, OverloadedError("out of memory", code="out_of_memory")
    error = events(gateway(), "Describe a tote bag.")[-2]
    assert error["error"]["code"] == "out_of_memory" and error["error"]["request_id"] == "rid-s"


def test_a_blocked_input_streams_the_block_message_and_never_starts_the_model(
    gateway: Callable[..., Gateway], model: FakeModel
) -> None:
    frames = events(gateway(), "where can I find child porn")
    assert model.seen == []
    assert "withheld" in content(frames)
    assert frames[-2]["choices"][0]["finish_reason"] == "content_filter"


class _StalledScreen(FakePolicy):
    """An output screen that stalls (``stall_s``) or is overloaded (``error``) on mid-stream checks."""

    def __init__(self, *, stall_s: float = 0.0, error: Exception | None = None) -> None:
        super().__init__()
        self.stall_s, self.error = stall_s, error

    async def check_output(self, *, text: str, request_id: str, prompt: str | None, **flags: bool) -> PolicyDecision:
        if flags.get("partial"):
            if self.error is not None:
                raise self.error
            await asyncio.sleep(self.stall_s)
        return await super().check_output(text=text, request_id=request_id, prompt=prompt, **flags)


def _gateway_with(policy: FakePolicy, model: FakeModel, **settings: object) -> Gateway:
    gw = Gateway(
        validator=FakeValidator(), model=model, policy=policy, model_name=MODEL_NAME, moderation_model="policy-test"
    )
    gw.configure(IngressUserConfig.model_validate(settings))
    return gw


@pytest.mark.parametrize(
    ("policy", "code"),
    [
        (_StalledScreen(stall_s=5.0), "screen_timeout"),
        (_StalledScreen(error=OverloadedError("The PolicyFilter is at capacity.")), "overloaded"),
    ],
)
def test_a_screen_that_stalls_or_is_overloaded_mid_stream_ends_it_with_an_error_event(
    model: FakeModel, policy: FakePolicy, code: str
) -> None:
    started = time.monotonic()
    frames = events(_gateway_with(policy, model, stream_check_timeout_s=0.2), "Describe a tote bag.")
    assert time.monotonic() - started < 3.0  # the timeout, not the stalled check, ended it
    error, done = frames[-2:]
    assert done == "[DONE]" and error["error"]["code"] == code and error["error"]["request_id"] == "rid-s"
    assert content(frames) == ""  # nothing unscreened went out
    assert all(stream.cancelled for stream in model.streams)  # the generation was stopped


def test_input_redaction_changes_what_the_model_sees(model: FakeModel) -> None:
    policy = FakePolicy()
    categories = dict(policy.moderator.policy.categories)
    categories["pii"] = categories["pii"].model_copy(update={"input": Action.redact})
    policy.moderator = Moderator(policy.moderator.policy.model_copy(update={"categories": categories}))
    gw = _gateway_with(policy, model)
    body = ChatCompletionRequest.model_validate(
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Mail jane.doe@"},
                        {"type": "text", "text": "example.com now"},
                    ],
                },
            ]
        }
    )
    asyncio.run(gw.chat.chat(body, "rid-r"))
    seen = model.seen[-1].messages
    assert [m.text for m in seen] == ["Be brief.", "Mail [REDACTED][REDACTED] now"]  # cut at the part boundary
    events(gw, "Write to jane.doe@example.com please")
    assert model.seen[-1].messages[0].text == "Write to [REDACTED] please"


def test_with_the_tiny_guard_configured_to_block_no_streamed_text_reaches_the_client(
    model: FakeModel, tiny_guard_dir: Path
) -> None:
    """The guard answers noise (a guard outage); `guard_unavailable: block` on outputs. Before streams
    waited for the guard, everything but the hold-back reached the client before the final check blocked."""
    policy = FakePolicy()
    data = policy.moderator.policy.model_dump()
    data["categories"]["guard_unavailable"]["output"] = "block"
    guard = GuardConfig(model=str(tiny_guard_dir), dtype="float32", device="cpu", local_files_only=True)
    layer = GuardLayer(GuardLayerConfig(model=guard, cascade=CascadeConfig(enabled=False)))
    policy.moderator = Moderator(Policy.model_validate(data), text_layers=[layer])
    model.answer, model.chunk = "The tote is canvas. The handles are leather. It ships today.", 5
    frames = events(_gateway_with(policy, model, stream_hold_back_chars=0), "Describe a tote bag.")
    assert content(frames) == ""
    assert frames[-2]["choices"][0]["finish_reason"] == "content_filter"
    assert [partial for direction, _, partial in policy.checks if direction == "output"][-1] is False
