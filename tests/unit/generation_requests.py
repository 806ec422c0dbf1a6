"""The one-message user request the engine and cache tests build (images first, then the text)."""

from __future__ import annotations

from PIL import Image

from pipelines.core.types import GenerationRequest, ImagePart, Message, SamplingParams, TextPart


def user_request(
    request_id: str, text: str, *images: Image.Image | None, stream: bool = False, **params: object
) -> GenerationRequest:
    """``images`` (``None`` ones skipped) as PNG parts, then ``text``; ``params`` are the ``SamplingParams``."""
    parts: list = [ImagePart(image, "image/png", 0) for image in images if image is not None]
    parts.append(TextPart(text))
    return GenerationRequest(request_id, [Message("user", parts)], SamplingParams(**params), stream=stream)  # type: ignore[arg-type]
