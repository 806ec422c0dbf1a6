"""Each deployment's handle wrapped once, in keyword-only typed methods (serve_app/serving/backends.py).

The only module that calls the deployments' handle methods: argument order and names live here, next
to one another, instead of in positional ``.remote(...)`` calls spread over the serving code.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from PIL import Image
from ray.serve.handle import DeploymentHandle, DeploymentResponseGenerator

from pipelines.core.errors import ServiceError
from pipelines.core.types import GenerationRequest, GenerationResult, ModerationInput
from pipelines.engine.continuous import StreamEvent
from pipelines.moderation.images.reading import ImageReadConfig, ImageReading
from pipelines.moderation.policy.engine import PolicyDecision
from serve_app.api.protocol import ModerationStats, PolicyInfo


class ValidatorClient:
    def __init__(self, handle: DeploymentHandle) -> None:
        self.handle = handle

    async def validate_chat(
        self, *, messages: list[dict[str, Any]], params: dict[str, Any], request_id: str
    ) -> GenerationRequest:
        return await self.handle.validate_chat.remote(messages, params, request_id)

    async def validate_legacy(
        self, *, image: str | None, prompt: str, max_tokens: int | None, temperature: float | None, request_id: str
    ) -> GenerationRequest:
        return await self.handle.validate_legacy.remote(image, prompt, max_tokens, request_id, temperature)

    async def validate_moderation(self, *, value: Any, request_id: str) -> list[ModerationInput]:
        return await self.handle.validate_moderation.remote(value, request_id)


class _HandleStream:
    """A streamed generation over a handle: iterate it for events, ``cancel`` to free the batch slot."""

    def __init__(self, response: DeploymentResponseGenerator) -> None:
        self.response = response

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self.response.__aiter__()

    def cancel(self) -> None:
        self.response.cancel()


class VLMClient:
    def __init__(self, handle: DeploymentHandle) -> None:
        self.handle = handle

    async def generate(self, *, request: GenerationRequest) -> GenerationResult:
        return _raise_if_error(await self.handle.generate.remote(request))

    def generate_all_blocking(self, *, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """For code on a worker thread, never on an event loop (the image policy question). All requests are
        sent at once and each is waited for until its ``deadline``; on a timeout (``TimeoutError``) or any
        other failure the calls still open are cancelled, so a slow VLM frees their slots."""
        responses = [self.handle.generate.remote(request) for request in requests]
        try:
            return [
                _raise_if_error(response.result(timeout_s=_remaining_s(request)))
                for request, response in zip(requests, responses, strict=True)
            ]
        except BaseException:
            for response in responses:
                response.cancel()
            raise

    def stream(self, *, request: GenerationRequest) -> _HandleStream:
        return _HandleStream(self.handle.options(stream=True).generate_stream.remote(request))

    async def model_info(self) -> dict[str, Any]:
        return await self.handle.model_info.remote()

    async def engine_stats(self) -> dict[str, Any]:
        return await self.handle.engine_stats.remote()


def _remaining_s(request: GenerationRequest) -> float | None:
    """Seconds left until the request's deadline; None (wait on) for a request without one."""
    if request.deadline is None:
        return None
    return max(0.0, request.deadline - time.time())


class PolicyClient:
    def __init__(self, handle: DeploymentHandle) -> None:
        self.handle = handle

    async def check_input(
        self,
        *,
        text: str,
        request_id: str,
        images: Sequence[Image.Image] = (),
        image_sources: Sequence[str | None] = (),
    ) -> PolicyDecision:
        """``image_sources``: each image's inline source in the request (None: fetched remotely), which the
        image screens read instead of the validator's resized copy."""
        return await self.handle.check.remote(text, "input", request_id, None, list(images), False, list(image_sources))

    async def check_output(
        self, *, text: str, request_id: str, prompt: str | None, partial: bool = False, all_layers: bool = False
    ) -> PolicyDecision:
        return await self.handle.check.remote(
            text, "output", request_id, prompt, [], partial, [], all_layers=all_layers
        )

    async def decisions(self, *, query: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        return await self.handle.decisions.remote(query)

    async def stats(self, *, query: dict[str, Any]) -> ModerationStats:
        return await self.handle.stats.remote(query)

    async def describe_policy(self) -> PolicyInfo:
        return await self.handle.describe_policy.remote()

    async def policy_version(self) -> str:
        return await self.handle.policy_version.remote()

    async def health(self) -> dict[str, Any]:
        return await self.handle.health.remote()


class ImageScreenClient:
    def __init__(self, handle: DeploymentHandle) -> None:
        self.handle = handle

    async def read(
        self,
        *,
        image: Image.Image,
        image_index: int,
        config: ImageReadConfig,
        inline: str | None,
        budget_s: float,
    ) -> ImageReading:
        return await self.handle.read.remote(image, image_index, config, inline, budget_s)

    async def health(self) -> dict[str, Any]:
        return await self.handle.health.remote()


def _raise_if_error(result: GenerationResult | ServiceError) -> GenerationResult:
    """The VLM returns per-request failures as values (an exception in a batch would fail every caller)."""
    if isinstance(result, Exception):
        raise result
    return result
