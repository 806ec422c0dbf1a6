"""Each request image's inline source (a data URL or bare Base64), in the order the validator decodes
the images, so the image screens can read the image as sent rather than the model's resized copy
(``pipelines/moderation/images/reading.py``). A remote URL's entry is None: it is never fetched twice."""

from __future__ import annotations

from typing import Any

from pipelines.inputs.remote.hosts import is_remote_url


def _source(image_url: Any) -> str | None:
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    if not isinstance(url, str) or is_remote_url(url):
        return None
    return url


def part_sources(parts: Any) -> list[str | None]:
    """The ``image_url`` parts of one content list, in order."""
    if not isinstance(parts, list):
        return []
    return [_source(p.get("image_url")) for p in parts if isinstance(p, dict) and p.get("type") == "image_url"]


def chat_sources(messages: list[dict[str, Any]]) -> list[str | None]:
    return [source for message in messages for source in part_sources(message.get("content"))]


def legacy_sources(image: str | None) -> list[str | None]:
    return [] if image is None else [None if is_remote_url(image) else image]
