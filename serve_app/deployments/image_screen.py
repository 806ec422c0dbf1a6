"""The CPU deployment that reads input images for the screens: OCR, QR codes and barcodes, NSFW classes.

Apart from the PolicyFilter so that this CPU-heavy work (about half a second of one core per image
with text) has its own replicas and autoscaling and never stalls the text filter or the validator.
One call reads one image; the PolicyFilter calls it for all of a request's images at once, under a
per-image deadline. It applies no policy: the PolicyFilter judges what it read
(``pipelines/moderation/images/judge.py``), so a policy reload never touches these replicas.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from PIL import Image
from ray import serve

from pipelines.moderation.images.reading import ImageReadConfig, ImageReading, ReaderPool
from serve_app.config import ImageScreenUserConfig
from serve_app.deployments.state import configured
from serve_app.metrics import ImageScreenMetrics

logger = logging.getLogger("ray.serve")


@serve.deployment(name="ImageScreen")
class ImageScreenDeployment:
    def __init__(self) -> None:
        self.settings: ImageScreenUserConfig | None = None
        self.pool: ReaderPool | None = None
        self.failures = 0
        self.metrics = ImageScreenMetrics()

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        settings = ImageScreenUserConfig.model_validate(user_config)
        if self.pool is None or self.pool.size != settings.readers:
            pool = ReaderPool(settings.readers)
            if settings.warmup:
                pool.load(ImageReadConfig())
            self.pool = pool
        self.settings = settings
        logger.info("image screen: %d reader(s)", settings.readers)

    async def read(
        self, image: Image.Image, image_index: int, config: ImageReadConfig, inline: str | None, budget_s: float
    ) -> ImageReading:
        """``inline``: the request's own data URL or Base64 of the image, read instead of ``image`` (the
        validator's copy for the model); ``budget_s``: this image's time, from now."""
        deadline = time.monotonic() + budget_s
        pool = self._pool()
        try:
            async with pool.reader(config) as reader:
                reading = await asyncio.to_thread(reader.read, image, image_index, inline=inline, deadline=deadline)
        except Exception:
            self.failures += 1
            self.metrics.reads.inc(tags={"outcome": "failed"})
            raise
        self._observe(reading)
        return reading

    def _observe(self, reading: ImageReading) -> None:
        self.metrics.reads.inc(tags={"outcome": "ok"})
        timings = {"decode": reading.decode_s}
        if reading.text is not None:
            timings |= {"ocr": reading.text.ocr_s, "codes": reading.text.codes_s}
        if reading.nsfw is not None:
            timings["nsfw"] = reading.nsfw_s
        for screen, seconds in timings.items():
            self.metrics.screen_latency.observe(seconds, tags={"screen": screen})

    def health(self) -> dict[str, Any]:
        return {"readers": self.settings.readers if self.settings else 0, "failures": self.failures}

    def check_health(self) -> None:
        self._pool()

    def _pool(self) -> ReaderPool:
        return configured(self.pool, "image screen not configured")
