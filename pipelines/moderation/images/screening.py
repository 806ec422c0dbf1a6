"""All of a request's images read at once, each under its own deadline; a failure is a missing reading.

Serve-free: the PolicyFilter passes a call to the ImageScreen deployment; the offline job reads in its
own process (:class:`InProcessImageScreens`) with the same reader and judge.
A missing reading (the call failed, or ran past ``deadline_s``) is judged as the policy's
``screen_unavailable`` fail mode (``judge.ImageJudge.unavailable``), never as a clean image.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from PIL import Image

from pipelines.moderation.images.decision import ImageDecision, check_with_findings
from pipelines.moderation.images.judge import ImageJudge
from pipelines.moderation.images.reading import ImageReader, ImageReading
from pipelines.moderation.images.screeners import ImageScreenConfig
from pipelines.moderation.moderator import Moderator

logger = logging.getLogger(__name__)

# (image index, the validator's image, its inline source or None, seconds left) -> the reading
ReadOne = Callable[[int, Image.Image, str | None, float], Awaitable[ImageReading]]


def aligned_sources(images: Sequence[Image.Image], sources: Sequence[str | None]) -> list[str | None]:
    """One inline source per image, or None for each when the caller's list does not line up (the
    validated copies are then read: worse OCR on a small model budget, never a wrong image)."""
    if len(sources) == len(images):
        return list(sources)
    if sources:
        logger.warning(
            "image screen: %d sources for %d images; reading the validated copies", len(sources), len(images)
        )
    return [None] * len(images)


async def read_images(
    read_one: ReadOne, images: Sequence[Image.Image], sources: Sequence[str | None], deadline_s: float
) -> list[ImageReading | None]:
    """The readings in image order, read concurrently; None for an image that failed or timed out."""

    async def one(index: int, image: Image.Image, source: str | None) -> ImageReading | None:
        try:
            return await asyncio.wait_for(read_one(index, image, source, deadline_s), timeout=deadline_s)
        except TimeoutError:
            logger.error("image screen: image %d not read within %.1f s", index, deadline_s)
        except Exception as exc:  # noqa: BLE001 - any screen failure is an outage, handled by the fail mode
            logger.error("image screen: image %d failed: %s: %s", index, type(exc).__name__, exc)
        return None

    return list(await asyncio.gather(*(one(i, im, s) for i, (im, s) in enumerate(zip(images, sources, strict=True)))))


class InProcessImageScreens:
    """The same screens in the caller's process, for the offline job: each image read by one
    :class:`ImageReader` (one at a time), judged by this moderator's policy, joined into its decision."""

    def __init__(self, config: ImageScreenConfig, moderator: Moderator) -> None:
        self.config = config
        self.reader = ImageReader(config.read)
        self.judge = ImageJudge(moderator.engine, config.read, config.unavailable_category)
        self.failures = 0

    def read(self, images: Sequence[Image.Image], sources: Sequence[str | None]) -> list[ImageReading | None]:
        readings: list[ImageReading | None] = []
        for index, (image, source) in enumerate(zip(images, aligned_sources(images, sources), strict=True)):
            deadline = time.monotonic() + self.config.deadline_s
            try:
                readings.append(self.reader.read(image, index, inline=source, deadline=deadline))
            except Exception as exc:  # noqa: BLE001 - any screen failure is an outage, handled by the fail mode
                logger.error("image screen: image %d failed: %s: %s", index, type(exc).__name__, exc)
                readings.append(None)
        self.failures += sum(reading is None for reading in readings)
        return readings

    def check_input(
        self,
        moderator: Moderator,
        text: str,
        request_id: str,
        images: Sequence[Image.Image],
        sources: Sequence[str | None] = (),
    ) -> ImageDecision:
        findings = self.judge.judge_all(self.read(images, sources)) if images else []
        return check_with_findings(moderator, findings, text, "input", request_id, images=images)
