"""The CPU deployment that applies the content policy to inputs and outputs and audits each decision."""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from PIL import Image
from ray import serve
from ray.serve.handle import DeploymentHandle

from pipelines.audit import AuditConfig
from pipelines.audit.stats import AuditStats, StatsWindow
from pipelines.core.errors import InvalidRequestError
from pipelines.core.types import GenerationRequest, GenerationResult
from pipelines.moderation.images.decision import check_with_findings
from pipelines.moderation.images.judge import ImageJudge
from pipelines.moderation.images.reading import ImageReadConfig, ImageReading
from pipelines.moderation.images.screening import aligned_sources, read_images
from pipelines.moderation.moderator import Moderator
from pipelines.moderation.policy.engine import PolicyDecision
from pipelines.moderation.setup import Layers, audit_log, build_moderator, configured_policy
from pipelines.moderation.text.layers import GuardLayer
from serve_app.api.protocol import ModerationStats, PolicyInfo
from serve_app.config import PolicyUserConfig
from serve_app.deployments.clients import ImageScreenClient, VLMClient
from serve_app.deployments.state import configured
from serve_app.metrics import ModerationMetrics
from serve_app.serving.admin import describe_policy, stats_response, stats_window
from serve_app.version import APP_VERSION

logger = logging.getLogger("ray.serve")


@dataclass(frozen=True)
class _ImageScreens:
    """How this policy version screens input images: read by the ImageScreen deployment with ``read``,
    judged by ``judge`` (built from the same moderator's engine), ``deadline_s`` per image."""

    read: ImageReadConfig
    judge: ImageJudge
    deadline_s: float


@serve.deployment(name="PolicyFilter")
class PolicyFilterDeployment:
    """Holds the compiled policy; ``reconfigure`` swaps it atomically under live traffic.

    Layers that load models (the guard model) are rebuilt only when their settings change, so a
    term-list edit applies in milliseconds. Input images are read by the ImageScreen deployment, all of
    a request's images at once; what they show is judged here, with this policy.
    """

    def __init__(
        self,
        audit: dict[str, Any] | None,
        model_name: str,
        vlm: DeploymentHandle | None = None,
        image_screen: DeploymentHandle | None = None,
    ) -> None:
        self.audit_config = AuditConfig.model_validate(audit) if audit is not None else None
        self.audit = audit_log(self.audit_config)
        self.model_name = model_name
        self.vlm = VLMClient(vlm) if vlm is not None else None
        self.image_screen = ImageScreenClient(image_screen) if image_screen is not None else None
        self.image_screen_failures = 0
        self.moderator: Moderator | None = None
        self.images: _ImageScreens | None = None
        self.layers: Layers | None = None
        self.metrics = ModerationMetrics()

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        settings = PolicyUserConfig.model_validate(user_config)
        policy = configured_policy(settings)
        if self.layers is None or self.layers.config != settings.layers:
            self.layers = Layers.build(settings.layers, self._vlm_generate)
            for layer in self.layers.text:
                if isinstance(layer, GuardLayer):
                    layer.on_latency = self.metrics.guard_latency.observe
                    layer.on_failure = self.metrics.guard_failures.inc
        moderator = build_moderator(
            policy,
            self.layers,
            audit=self.audit,
            audit_fail_mode=self.audit_config.fail_mode if self.audit_config else "fail_open",
            model_name=self.model_name,
            app_version=APP_VERSION,
            on_audit_failure=self.metrics.audit_failures.inc,
        )
        image = settings.layers.image
        images = _ImageScreens(
            image.read, ImageJudge(moderator.engine, image.read, image.unavailable_category), image.deadline_s
        )
        # one assignment: each request sees the old or the new policy, never a mix
        self.moderator, self.images = moderator, images
        logger.info("policy %s loaded from %s", policy.version, settings.policy_file)

    def _vlm_generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """Blocking VLM calls for the image policy question (runs in a worker thread, never the loop), each
        bounded by its request's deadline (``layers.image.vlm_question.deadline_s``)."""
        if self.vlm is None:
            raise RuntimeError("no VLM handle")
        return self.vlm.generate_all_blocking(requests=requests)

    async def check(
        self,
        text: str,
        direction: Literal["input", "output"],
        request_id: str,
        prompt: str | None = None,
        images: Sequence[Image.Image] = (),
        partial: bool = False,
        image_sources: Sequence[str | None] = (),
        all_layers: bool = False,
    ) -> PolicyDecision:
        """``image_sources``: each image's inline source in the request, which the screens read instead of
        the validator's copy (``pipelines/moderation/images/reading.py``). ``partial``/``all_layers``: as
        ``Moderator.check``."""
        moderator, screens = self._moderator(), self.images
        if partial or not images or screens is None or not screens.read.enabled:
            decision = await asyncio.to_thread(
                lambda: moderator.check(
                    text, direction, request_id, prompt=prompt, images=images, partial=partial, all_layers=all_layers
                )
            )
        else:
            readings = await self._read(images, image_sources, screens)
            decision = await asyncio.to_thread(
                lambda: check_with_findings(
                    moderator,
                    screens.judge.judge_all(readings),
                    text,
                    direction,
                    request_id,
                    prompt=prompt,
                    images=images,
                )
            )
        if not partial:
            self._observe(decision)
        return decision

    async def _read(
        self, images: Sequence[Image.Image], sources: Sequence[str | None], screens: _ImageScreens
    ) -> list[ImageReading | None]:
        """Every image read at once by the ImageScreen deployment; None where it failed or ran late."""
        client = self.image_screen

        async def read_one(index: int, image: Image.Image, inline: str | None, budget_s: float) -> ImageReading:
            if client is None:
                raise RuntimeError("the PolicyFilter was built without an ImageScreen deployment")
            return await client.read(
                image=image, image_index=index, config=screens.read, inline=inline, budget_s=budget_s
            )

        readings = await read_images(read_one, images, aligned_sources(images, sources), screens.deadline_s)
        self.image_screen_failures += sum(reading is None for reading in readings)
        return readings

    def _observe(self, decision: PolicyDecision) -> None:
        try:
            self._record(decision)
        except Exception:  # metrics never fail a request (logger.exception re-reports it)
            logger.exception("recording metrics failed")

    def _record(self, decision: PolicyDecision) -> None:
        self.metrics.decisions.inc(tags={"direction": decision.direction, "action": decision.action})
        for name in decision.fired:
            action = decision.categories[name].action
            self.metrics.categories.inc(tags={"category": name, "direction": decision.direction, "action": action})
        if self.audit is not None:
            health = self.audit.health()
            self.metrics.audit_healthy.set(1.0 if health["ok"] else 0.0)
            self.metrics.audit_pending.set(float(health["pending"]))

    async def decisions(self, query: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the audit log. Pending records are flushed first, so a decision made just
        before the query is listed (bounded by the audit's close timeout)."""
        if self.audit is None:
            return [], None
        return await asyncio.to_thread(self._query, query)

    def _query(self, query: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        assert self.audit is not None and self.audit_config is not None
        self.audit.flush(timeout_s=self.audit_config.close_timeout_s)
        try:
            records, next_cursor = self.audit.query(**query)
        except ValueError as exc:  # a malformed cursor
            raise InvalidRequestError(str(exc), param="cursor", code="invalid_cursor") from None
        return [r.model_dump(mode="json") for r in records], next_cursor

    async def stats(self, query: dict[str, Any]) -> ModerationStats:
        """Decision counts per time bucket (``pipelines/audit/stats.py``), after flushing pending records
        as ``decisions`` does. ``query``: ``StatsQuery`` fields; without an audit log every count is zero."""
        window = stats_window(query, self.audit_config or AuditConfig(), datetime.now(UTC))
        if self.audit is None:
            return stats_response(AuditStats.empty(window), query["bucket"])
        return await asyncio.to_thread(self._stats, window, query["bucket"])

    def _stats(self, window: StatsWindow, bucket: str) -> ModerationStats:
        assert self.audit is not None and self.audit_config is not None
        self.audit.flush(timeout_s=self.audit_config.close_timeout_s)
        return stats_response(self.audit.stats(window), bucket)

    def describe_policy(self) -> PolicyInfo:
        moderator = self._moderator()
        assert self.layers is not None
        return describe_policy(moderator.policy, self.layers.config, moderator.policy_digest)

    def policy_version(self) -> str:
        return self.moderator.policy.version if self.moderator else ""

    def health(self) -> dict[str, Any]:
        audit = self.audit.health() if self.audit else {"ok": True, "pending": 0, "last_error": None}
        fail_mode = self.audit_config.fail_mode if self.audit_config else "fail_open"
        return {
            "policy_version": self.policy_version(),
            "audit": audit,
            "audit_fail_mode": fail_mode,
            "audit_write_failures": self.moderator.audit_failures if self.moderator else 0,
            "guard": self._guard_health(),
            "image_screen": {
                "enabled": self.images is not None and self.images.read.enabled,
                "failures": self.image_screen_failures,
            },
        }

    def _guard_health(self) -> dict[str, Any]:
        guards = [layer for layer in (self.layers.text if self.layers else []) if isinstance(layer, GuardLayer)]
        return {"enabled": bool(guards), "failures": sum(g.failures for g in guards)}

    def check_health(self) -> None:
        self._moderator()

    def _moderator(self) -> Moderator:
        return configured(self.moderator, "policy not loaded")

    def __del__(self) -> None:
        if getattr(self, "audit", None) is not None:
            self.audit.close()
