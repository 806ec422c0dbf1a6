"""Plain data passed between the pipeline stages (validation -> engine -> policy).

These are dataclasses rather than pydantic models: they hold decoded PIL images and are
pickled between Ray actors on every request, so they stay cheap and schema-free. The wire
schemas live in ``serve_app.api.protocol``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from PIL import Image

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "content_filter"]


@dataclass
class TextPart:
    text: str


@dataclass
class ImagePart:
    """An image after validation: decoded, RGB, within the configured limits."""

    image: Image.Image
    mime_type: str
    encoded_bytes: int


@dataclass
class Message:
    role: Role
    parts: list[TextPart | ImagePart]

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def images(self) -> list[Image.Image]:
        return [p.image for p in self.parts if isinstance(p, ImagePart)]


@dataclass
class ModerationInput:
    """One item of a moderation request: its text parts joined by newlines, and its images."""

    text: str
    images: list[ImagePart]


@dataclass
class SamplingParams:
    """Per-request decoding parameters; each request in a batch keeps its own."""

    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


@dataclass
class GenerationRequest:
    request_id: str
    messages: list[Message]
    params: SamplingParams
    deadline: float | None = None
    """Wall-clock time (``time.time()``) after which the engine drops the request with a 504."""
    stream: bool = False
    """Whether the caller wants text deltas as they are made (else only the final result)."""

    @property
    def images(self) -> list[Image.Image]:
        return [img for m in self.messages for img in m.images]


@dataclass
class GenerationResult:
    request_id: str
    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    batch_size: int
    """How many requests shared the ``generate`` call (or, continuously batched, a decode step)."""
    queued_s: float | None = None
    """Seconds from submission to the start of its prefill (continuous engine only)."""
    first_token_s: float | None = None
    """Seconds from submission to its first generated token (continuous engine only)."""
    decode_s: float | None = None
    """Seconds from its first to its last generated token (continuous engine only)."""
