"""What the image screens read from one image before any policy applies: OCR lines, decoded codes and
the NSFW classifier's class probabilities.

This is the CPU-heavy half of image screening, run by the ImageScreen deployment (one image per
call) and in process by the offline job; the other half (``judge.py``) applies the policy to what was
read, in the PolicyFilter, with the prompt's own text layers.

Decisions:

* The screens read the image the request sent, not the validator's copy for the model: the
  validator shrinks each image to the model's pixel budget (16,384 px for the tiny CPU model, where
  no text survives). An inline image (a data URL or bare Base64, what nearly every request sends) is
  decoded again here, by the validator's own hardened decoder (``decode_image``) under this config's
  limits, and box-shrunk to ``text.max_source_pixels`` at most. A fetched remote image is never
  fetched a second time (the host could answer differently): its validated copy is screened.
* A reading is plain picklable data, so it crosses the deployment boundary; the policy that judges
  it can be reloaded without touching the replicas that read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from pipelines.inputs.data_url import parse_image_source
from pipelines.inputs.images import decode_image
from pipelines.inputs.validation import ValidationLimits
from pipelines.moderation.images.image_text import ImageTextConfig, ImageTextRead, ImageTextScreen
from pipelines.moderation.images.nsfw import NsfwClassifier, NsfwConfig

_INLINE_PARAM = "image"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImageReadConfig(_Strict):
    """How input images are read (OCR, codes, NSFW classes); what is flagged is the policy's."""

    text: ImageTextConfig = Field(default_factory=ImageTextConfig, description="OCR and QR/barcode decoding.")
    nsfw: NsfwConfig = Field(default_factory=NsfwConfig, description="nsfwjs's MobileNetV2 (ONNX, CPU).")
    inline: ValidationLimits = Field(
        default_factory=ValidationLimits,
        description="Limits for decoding the request's inline image again for the screens (its `resize_*` "
        "fields are ignored: `text.max_source_pixels` bounds the copy). Keep them at least the Validator's, "
        "or an admitted image fails its screen (the `screen_unavailable` fail mode).",
    )

    @property
    def enabled(self) -> bool:
        return self.text.ocr.enabled or self.text.codes.enabled or self.nsfw.enabled


@dataclass(frozen=True)
class ImageReading:
    """One image as the screens read it. ``text`` is None when OCR and codes are off; ``nsfw`` (class ->
    probability) when the NSFW screen is; ``source``: which pixels were read (``inline``: the request's
    own image, ``validated``: the validator's copy)."""

    image_index: int
    text: ImageTextRead | None
    nsfw: dict[str, float] | None
    source: str
    width: int
    height: int
    decode_s: float
    nsfw_s: float


def decode_inline(source: str, config: ImageReadConfig) -> Image.Image:
    """The request's inline image decoded like the validator does, shrunk to the screens' own budget."""
    limits = dataclasses.replace(
        config.inline.image_limits, resize_max_pixels=config.text.max_source_pixels, resize_min_pixels=None
    )
    declared, data = parse_image_source(source, max_encoded_bytes=limits.max_encoded_bytes, param=_INLINE_PARAM)
    return decode_image(data, declared_type=declared, limits=limits, param=_INLINE_PARAM).image


class ImageReader:
    """The screens' models, loaded once (OCR ~16 MB of weights, NSFW ~10 MB); not thread-safe: one
    :meth:`read` at a time per instance (:class:`ReaderPool` holds several)."""

    def __init__(self, config: ImageReadConfig) -> None:
        self.config = config
        text = config.text
        self.text = ImageTextScreen(text, checks=()) if text.ocr.enabled or text.codes.enabled else None
        self.nsfw = NsfwClassifier(_model_dir(config.nsfw), config.nsfw.threads) if config.nsfw.enabled else None

    def read(
        self, image: Image.Image, image_index: int, *, inline: str | None = None, deadline: float | None = None
    ) -> ImageReading:
        """``image``: the validator's copy; ``inline``: the request's own source of it, read instead when
        given. ``deadline``: a ``time.monotonic()`` instant for this image."""
        started = time.monotonic()
        source = "validated"
        if inline is not None:
            image, source = decode_inline(inline, self.config), "inline"
        decoded = time.monotonic()
        text = self.text.read(image, deadline) if self.text is not None else None
        nsfw_started = time.monotonic()
        nsfw = None
        if self.nsfw is not None:
            row = self.nsfw.predict([image], self.config.nsfw.batch_size)[0]
            nsfw = {name: float(p) for name, p in zip(self.nsfw.classes, row, strict=True)}
        return ImageReading(
            image_index,
            text,
            nsfw,
            source,
            image.width,
            image.height,
            decoded - started,
            time.monotonic() - nsfw_started,
        )


def _model_dir(config: NsfwConfig) -> str:
    from pipelines.core.paths import resolve_path

    return resolve_path(config.model_dir)


class ReaderPool:
    """``size`` readers for one config, lent one call at a time: a replica reads that many images at once
    (each on its own ONNX threads). A call with another config rebuilds the pool once it is idle."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.config: ImageReadConfig | None = None
        self._idle: asyncio.Queue[ImageReader] = asyncio.Queue()
        self._rebuild = asyncio.Lock()

    def load(self, config: ImageReadConfig) -> None:
        """Load the readers for ``config`` now (a replica's warm-up), not on the first request."""
        self._install(config, [ImageReader(config) for _ in range(self.size)])

    async def prepare(self, config: ImageReadConfig) -> None:
        """Readers for ``config``, built off the event loop; readers of the old config finish their image
        and are dropped when they come back."""
        async with self._rebuild:
            if self.config != config:
                readers = await asyncio.to_thread(lambda: [ImageReader(config) for _ in range(self.size)])
                self._install(config, readers)

    def _install(self, config: ImageReadConfig, readers: list[ImageReader]) -> None:
        idle: asyncio.Queue[ImageReader] = asyncio.Queue()
        for reader in readers:
            idle.put_nowait(reader)
        self._idle, self.config = idle, config

    @asynccontextmanager
    async def reader(self, config: ImageReadConfig) -> AsyncIterator[ImageReader]:
        while True:
            if self.config != config:
                await self.prepare(config)
            idle = self._idle
            reader = await idle.get()
            if reader.config == config:
                break
            idle.put_nowait(reader)  # the pool was rebuilt while this call waited: wait for the new readers
        try:
            yield reader
        finally:
            idle.put_nowait(reader)  # back to its own queue (a replaced one still serves the calls waiting on it)
