"""The CPU deployment that turns raw request content into a validated ``GenerationRequest``."""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterator
from typing import Any

import ray
from ray import serve

from pipelines.core.errors import ServiceError
from pipelines.core.types import GenerationRequest, ModerationInput
from pipelines.inputs.images import DecodeSlots
from pipelines.inputs.validation import (
    validate_chat_request,
    validate_legacy_request,
    validate_moderation_input,
)
from serve_app.config import ValidatorUserConfig
from serve_app.metrics import ValidationMetrics

logger = logging.getLogger("ray.serve")


def replica_cpus() -> int:
    """The CPUs Ray gave this replica (``ray_actor_options.num_cpus``), rounded up; outside Ray, the CPUs
    this process may run on."""
    if ray.is_initialized():
        assigned = ray.get_runtime_context().get_assigned_resources().get("CPU")
        if assigned:
            return max(1, math.ceil(assigned))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@serve.deployment(name="Validator")
class ValidatorDeployment:
    """Decoding hostile images is CPU work that must not share a process with the model.

    Raises ``pipelines.core.errors.ServiceError`` subclasses, which reach the ingress intact. Serve runs
    these methods on threads, up to ``max_ongoing_requests`` at once; ``decode_slots`` lets only
    ``max_concurrent_decodes`` of them decode an image at the same time.
    """

    def __init__(self) -> None:
        self.limits = ValidatorUserConfig()
        self.decode_slots = DecodeSlots(replica_cpus())
        self.metrics = ValidationMetrics()

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        limits = ValidatorUserConfig.model_validate(user_config)
        slots = limits.max_concurrent_decodes or replica_cpus()
        if slots != self.decode_slots.limit:
            # decodes in flight finish in the old slots; new ones wait for the new
            self.decode_slots = DecodeSlots(slots)
        self.limits = limits
        logger.info("validation limits updated (%d concurrent decodes)", slots)

    def validate_chat(
        self, messages: list[dict[str, Any]], params: dict[str, Any], request_id: str
    ) -> GenerationRequest:
        with self._counting_rejections():
            return validate_chat_request(messages, params, self.limits, request_id, self.decode_slots)

    def validate_legacy(
        self, image: str | None, prompt: str, max_tokens: int | None, request_id: str, temperature: float | None = None
    ) -> GenerationRequest:
        with self._counting_rejections():
            return validate_legacy_request(
                image, prompt, max_tokens, self.limits, request_id, temperature, self.decode_slots
            )

    def validate_moderation(self, value: Any, request_id: str) -> list[ModerationInput]:
        """``request_id`` only for log correlation; moderation inputs are not generation requests."""
        with self._counting_rejections():
            return validate_moderation_input(value, self.limits, self.decode_slots)

    @contextlib.contextmanager
    def _counting_rejections(self) -> Iterator[None]:
        try:
            yield
        except ServiceError as err:
            self.metrics.rejections.inc(tags={"reason": err.code, "status": str(err.status)})
            raise
