"""The CPU deployment that turns raw request content into a validated ``GenerationRequest``."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from ray import serve

from pipelines.core.errors import ServiceError
from pipelines.core.types import GenerationRequest, ModerationInput
from pipelines.inputs.validation import (
    ValidationLimits,
    validate_chat_request,
    validate_legacy_request,
    validate_moderation_input,
)
from serve_app.metrics import ValidationMetrics

logger = logging.getLogger("ray.serve")


@serve.deployment(name="Validator")
class ValidatorDeployment:
    """Decoding hostile images is CPU work that must not share a process with the model.

    Raises ``pipelines.core.errors.ServiceError`` subclasses, which reach the ingress intact.
    """

    def __init__(self) -> None:
        self.limits = ValidationLimits()
        self.metrics = ValidationMetrics()

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        self.limits = ValidationLimits.model_validate(user_config)
        logger.info("validation limits updated")

    def validate_chat(
        self, messages: list[dict[str, Any]], params: dict[str, Any], request_id: str
    ) -> GenerationRequest:
        with self._counting_rejections():
            return validate_chat_request(messages, params, self.limits, request_id)

    def validate_legacy(
        self, image: str | None, prompt: str, max_tokens: int | None, request_id: str, temperature: float | None = None
    ) -> GenerationRequest:
        with self._counting_rejections():
            return validate_legacy_request(image, prompt, max_tokens, self.limits, request_id, temperature)

    def validate_moderation(self, value: Any, request_id: str) -> list[ModerationInput]:
        """``request_id`` only for log correlation; moderation inputs are not generation requests."""
        with self._counting_rejections():
            return validate_moderation_input(value, self.limits)

    @contextlib.contextmanager
    def _counting_rejections(self) -> Iterator[None]:
        try:
            yield
        except ServiceError as err:
            self.metrics.rejections.inc(tags={"reason": err.code, "status": str(err.status)})
            raise
