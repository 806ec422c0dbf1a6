"""One moderation decision end to end: policy layers, image screening, audit record.

Serve-free so that the PolicyFilter deployment, the offline Ray Data job and tests share it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from PIL import Image

from pipelines.audit import AuditLog, AuditRecord
from pipelines.audit.record import EXTRA_MAX_BYTES
from pipelines.core.errors import OverloadedError
from pipelines.inputs.images import image_sha256
from pipelines.moderation.images.screeners import ImageScreener
from pipelines.moderation.policy.config import Direction, Policy
from pipelines.moderation.policy.engine import PolicyDecision, PolicyEngine
from pipelines.moderation.text.detectors import Detector, Hit

logger = logging.getLogger(__name__)

AuditFailMode = Literal["fail_open", "fail_closed"]

# OpenAI moderation category -> the policy categories that must all fire for it (score: their
# lowest). Subcategories we cannot tell apart from their parent (self-harm intent vs instructions,
# graphic violence) have no source and are always false rather than guessed.
OPENAI_CATEGORY_SOURCES: dict[str, tuple[str, ...]] = {
    "harassment": ("hate/harassment",),
    "harassment/threatening": ("hate/harassment", "violence"),
    "hate": ("hate/harassment",),
    "hate/threatening": ("hate/harassment", "violence"),
    "illicit": ("illegal",),
    "illicit/violent": ("illegal", "violence"),
    "self-harm": ("self-harm",),
    "self-harm/instructions": (),
    "self-harm/intent": (),
    "sexual": ("sexual",),
    "sexual/minors": ("sexual/minors",),
    "violence": ("violence",),
    "violence/graphic": (),
}
# The categories OpenAI evaluates on images as well as text.
OPENAI_IMAGE_CATEGORIES = frozenset(
    {"self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "violence", "violence/graphic"}
)


@dataclass(frozen=True)
class OpenAIModeration:
    categories: dict[str, bool]
    category_scores: dict[str, float]
    category_applied_input_types: dict[str, list[str]]


def openai_moderation(decision: PolicyDecision, *, has_text: bool, has_image: bool) -> OpenAIModeration:
    """A decision in the shape of OpenAI's moderation result (our own categories are reported apart)."""
    categories: dict[str, bool] = {}
    scores: dict[str, float] = {}
    applied: dict[str, list[str]] = {}
    for name, sources in OPENAI_CATEGORY_SOURCES.items():
        results = [decision.categories[s] for s in sources if s in decision.categories]
        complete = bool(sources) and len(results) == len(sources)
        categories[name] = complete and all(r.detected for r in results)
        scores[name] = min((r.score for r in results), default=0.0) if complete else 0.0
        types = ["text"] if has_text else []
        if has_image and name in OPENAI_IMAGE_CATEGORIES:
            types.append("image")
        applied[name] = types
    return OpenAIModeration(categories, scores, applied)


def fit_extra(base: dict[str, object], **lists: object) -> dict[str, object]:
    """``base`` plus each non-empty entry of ``lists``, the later entries' items dropped from the end (and
    the earlier ones' after them) until the JSON fits ``EXTRA_MAX_BYTES``; a list that cannot fit at
    all is left out."""
    extra = {**base, **{k: v for k, v in lists.items() if v}}

    def size() -> int:
        return len(json.dumps(extra, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))

    for key in reversed(list(lists)):
        value = extra.get(key)
        while value and size() > EXTRA_MAX_BYTES:
            if isinstance(value, list):
                value.pop()
            elif isinstance(value, dict):
                value.pop(next(reversed(value)))
            if not value:
                extra.pop(key)
    return extra


def is_cheap(layer: Detector) -> bool:
    """Layers declare ``cost = "cheap"`` when they may run on every streamed delta (no model call)."""
    return getattr(layer, "cost", "model") == "cheap"


class Moderator:
    """A compiled policy with its layers and screeners, writing every decision to the audit log."""

    def __init__(
        self,
        policy: Policy,
        *,
        text_layers: Sequence[Detector] = (),
        image_screeners: Sequence[ImageScreener] = (),
        audit: AuditLog | None = None,
        audit_fail_mode: AuditFailMode = "fail_open",
        model_name: str | None = None,
        app_version: str | None = None,
        policy_digest: str = "",
    ) -> None:
        self.engine = PolicyEngine(policy, list(text_layers))
        self.policy_digest = policy_digest
        # Partial checks (a stream's intermediate screens) skip model layers: they run per delta.
        cheap = [layer for layer in text_layers if is_cheap(layer)]
        self.partial_engine = PolicyEngine(policy, cheap)
        self.partial_skips_layers = len(cheap) < len(text_layers)
        self.image_screeners = list(image_screeners)
        self.audit = audit
        self.audit_fail_mode = audit_fail_mode
        self.model_name = model_name
        self.app_version = app_version
        self.audit_failures = 0
        self.on_audit_failure: Callable[[], None] | None = None  # e.g. a metrics counter

    @property
    def policy(self) -> Policy:
        return self.engine.policy

    def check(
        self,
        text: str,
        direction: Direction,
        request_id: str,
        *,
        prompt: str | None = None,
        images: Sequence[Image.Image] = (),
        partial: bool = False,
        all_layers: bool = False,
        extra_hits: Sequence[Hit] = (),
        image_findings: Sequence[Mapping[str, object]] = (),
    ) -> PolicyDecision:
        """``partial``: an intermediate screen of a growing text, not audited: the cheap layers only
        (the decision's ``all_layers`` says whether any were skipped), or with ``all_layers`` every layer
        (a stream's approval of text before it is released). The final decision on the same text must be
        a full check. ``extra_hits``: what screens that ran elsewhere found (the ImageScreen
        deployment), decided and audited with the text's hits; ``image_findings``: how they are described
        in the audit record (image index, category, layer, boxes; the read text only when content is kept)."""
        if partial and all_layers:
            return dataclasses.replace(self.engine.check(text, direction, prompt), policy_digest=self.policy_digest)
        if partial:
            return dataclasses.replace(
                self.partial_engine.check(text, direction, prompt),
                policy_digest=self.policy_digest,
                all_layers=not self.partial_skips_layers,
            )
        hits: list[Hit] = self.engine.detect(text, direction, prompt)
        hits += [h for h in extra_hits if h.category in self.policy.categories]
        for screener in self.image_screeners if images else ():
            hits += [h for h in screener.screen(list(images)) if h.category in self.policy.categories]
        decision = dataclasses.replace(self.engine.decide(text, direction, hits), policy_digest=self.policy_digest)
        self._audit(decision, request_id, text, images, image_findings)
        return decision

    def _extra(
        self, decision: PolicyDecision, images: Sequence[Image.Image], findings: Sequence[Mapping[str, object]]
    ) -> dict[str, object]:
        """What a reviewer needs beside the verdict: versions, image hashes, per fired category its action,
        layers and matched spans, and the image findings; cut to fit the record's size bound (findings
        first, then categories)."""
        extra: dict[str, object] = {"app_version": self.app_version} if self.app_version else {}
        if images:
            extra["image_sha256"] = [image_sha256(i) for i in images]
        fired = {
            name: {"action": r.action, "layers": r.layers, "spans": [list(s) for s in r.spans]}
            for name, r in decision.categories.items()
            if r.detected
        }
        return fit_extra(extra, categories=fired, images=list(findings))

    def _audit(
        self,
        decision: PolicyDecision,
        request_id: str,
        text: str,
        images: Sequence[Image.Image],
        findings: Sequence[Mapping[str, object]] = (),
    ) -> None:
        if self.audit is None:
            return
        record = AuditRecord.for_content(
            text,
            digest_key=self.audit.digest_key,
            keep_content=self.policy.audit_keep_content,
            request_id=request_id,
            direction=decision.direction,
            action=decision.action,
            categories=decision.fired,
            scores={name: r.score for name, r in decision.categories.items() if r.score > 0},
            policy_version=decision.policy_version,
            model=self.model_name if decision.direction == "output" else None,
            extra=self._extra(decision, images, findings),
        )
        if self.audit_fail_mode == "fail_closed" and not self.audit.health()["ok"]:
            self.audit_failures += 1
            if self.on_audit_failure is not None:
                self.on_audit_failure()
            raise OverloadedError("The audit store is unavailable; retry later.", code="audit_unavailable")
        try:
            self.audit.record(record)
        except (OSError, RuntimeError) as exc:
            self.audit_failures += 1
            if self.on_audit_failure is not None:
                self.on_audit_failure()
            logger.error("audit record for %s not written: %s", request_id, exc)
            if self.audit_fail_mode == "fail_closed":
                raise OverloadedError("The audit store is unavailable; retry later.", code="audit_unavailable") from exc
