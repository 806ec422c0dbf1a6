"""What the serving code needs from the deployments it drives, as typed, keyword-only protocols.

Why protocols and not handles: a positional ``check.remote(text, "input", rid, None, images)`` can
only be checked by running ``serve run``. The serving code depends on these; serve_app/deployments/
clients.py implements them over Serve's handles, and unit tests implement them in-process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from PIL import Image

from pipelines.core.types import GenerationRequest, GenerationResult, ModerationInput
from pipelines.engine.continuous import StreamEvent
from pipelines.moderation.policy.engine import PolicyDecision
from serve_app.api.protocol import ModerationStats, PolicyInfo


class Validation(Protocol):
    async def validate_chat(
        self, *, messages: list[dict[str, Any]], params: dict[str, Any], request_id: str
    ) -> GenerationRequest: ...

    async def validate_legacy(
        self, *, image: str | None, prompt: str, max_tokens: int | None, temperature: float | None, request_id: str
    ) -> GenerationRequest: ...

    async def validate_moderation(self, *, value: Any, request_id: str) -> list[ModerationInput]: ...


class TokenStream(Protocol):
    """A running streamed generation: its events, and a way to stop it (frees its batch slot)."""

    def __aiter__(self) -> AsyncIterator[StreamEvent]: ...

    def cancel(self) -> None: ...


class Model(Protocol):
    async def generate(self, *, request: GenerationRequest) -> GenerationResult:
        """The result; a per-request failure is raised as its ``ServiceError``."""
        ...

    def stream(self, *, request: GenerationRequest) -> TokenStream: ...

    async def model_info(self) -> dict[str, Any]: ...


class Policy(Protocol):
    async def check_input(
        self,
        *,
        text: str,
        request_id: str,
        images: Sequence[Image.Image] = (),
        image_sources: Sequence[str | None] = (),
    ) -> PolicyDecision:
        """``image_sources``: each image's inline source as sent (None: remote), read by the image screens."""
        ...

    async def check_output(
        self, *, text: str, request_id: str, prompt: str | None, partial: bool = False, all_layers: bool = False
    ) -> PolicyDecision:
        """``partial``: an intermediate screen of a growing streamed text (not audited), by the cheap layers
        only unless ``all_layers`` (pipelines/moderation/stream_screen.py)."""
        ...

    async def decisions(self, *, query: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]: ...

    async def stats(self, *, query: dict[str, Any]) -> ModerationStats:
        """Decision counts per time bucket; ``query``: the ``StatsQuery`` fields (a bad range: 400)."""
        ...

    async def describe_policy(self) -> PolicyInfo: ...

    async def policy_version(self) -> str: ...

    async def health(self) -> dict[str, Any]: ...
