"""Safe decoding of untrusted image bytes into RGB ``ImagePart``s.

Order matters for safety: the magic bytes decide the format (Pillow is only allowed that one
plugin), and the dimensions from the header are checked against the limits *before* any pixel
data is decoded, so a small file that declares a huge canvas is refused without allocating it.
Whatever goes wrong, ``decode_image`` raises only ``ServiceError`` subclasses. ``probe_image`` runs the
same checks and reads only the header, so a request's images can be budgeted together before any of
them is decoded; ``DecodeSlots`` bounds how many decode at once in a process.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageOps

from pipelines.core.errors import (
    InvalidRequestError,
    PayloadTooLargeError,
    ServiceError,
    UnprocessableEntityError,
    UnsupportedMediaTypeError,
)
from pipelines.core.types import ImagePart

logger = logging.getLogger(__name__)

# Pillow only *warns* between MAX_IMAGE_PIXELS and twice that; make the warning an error
# process-wide. The category is Pillow's own, so nothing else is affected. decode_image also
# enforces its own, stricter limits right after the header is read, so it does not rely on this.
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)

JPEG, PNG, WEBP, GIF = "image/jpeg", "image/png", "image/webp", "image/gif"

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_JPEG_START_OF_SCAN = b"\xff\xda"
_GIF_MAGICS = (b"GIF87a", b"GIF89a")
_RIFF_MAGIC = b"RIFF"
_WEBP_MAGIC = b"WEBP"
_WEBP_MAGIC_OFFSET = 8

# Pillow plugin used for each sniffed type, and the formats it may report (camera JPEGs open as MPO).
_PIL_PLUGIN = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP", GIF: "GIF"}
_PIL_FORMATS = {JPEG: {"JPEG", "MPO"}, PNG: {"PNG"}, WEBP: {"WEBP"}, GIF: {"GIF"}}

_MEDIA_TYPE_ALIASES = {"image/jpg": JPEG, "image/pjpeg": JPEG, "image/x-png": PNG}
_UNDECLARED_TYPES = frozenset({"application/octet-stream"})

_RGB_CHANNELS = 3
_WHITE_RGBA = (255, 255, 255, 255)
_HIGH_BIT_DEPTH_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})
_SIXTEEN_TO_EIGHT_BIT = 255 / 65535


@dataclass(frozen=True)
class ImageLimits:
    """Per-image limits; built from ``pipelines.inputs.validation.ValidationLimits.image_limits``."""

    max_encoded_bytes: int
    max_decoded_bytes: int
    max_pixels: int
    max_side: int
    max_aspect_ratio: float
    resize_max_pixels: int | None = None
    resize_min_pixels: int | None = None
    max_jpeg_scans: int | None = None


def sniff_image_type(data: bytes) -> str | None:
    """The image media type from the magic bytes, or None when not a supported format."""
    if data.startswith(_JPEG_MAGIC):
        return JPEG
    if data.startswith(_PNG_MAGIC):
        return PNG
    if data.startswith(_GIF_MAGICS):
        return GIF
    if data.startswith(_RIFF_MAGIC) and data[_WEBP_MAGIC_OFFSET:].startswith(_WEBP_MAGIC):
        return WEBP
    return None


def normalize_media_type(media_type: str) -> str:
    base = media_type.split(";", 1)[0].strip().lower()
    return _MEDIA_TYPE_ALIASES.get(base, base)


class DecodeSlots:
    """At most ``limit`` images decode at once in this process (one Validator replica): decoding is CPU
    and memory bound, so more threads than CPUs only multiply the peak memory, not the throughput."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("at least one decode slot is needed")
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._slots:
            yield


def probe_image(data: bytes, *, declared_type: str | None, limits: ImageLimits, param: str) -> tuple[int, int]:
    """Width and height from the image's header, after every check ``decode_image`` makes before it
    decodes; nothing is decoded (a header-only bomb costs a few hundred bytes of reading)."""
    with _service_errors(param):
        sniffed = _check_bytes(data, declared_type, limits, param)
        with _open_checked(data, sniffed, limits, param) as img:
            return img.width, img.height


def decode_image(
    data: bytes, *, declared_type: str | None, limits: ImageLimits, param: str, slots: DecodeSlots | None = None
) -> ImagePart:
    """Validate and decode one image into an RGB ``ImagePart`` within ``limits``, in one of ``slots``."""
    with _service_errors(param):
        sniffed = _check_bytes(data, declared_type, limits, param)
        with slots.held() if slots is not None else contextlib.nullcontext():
            return _decode(data, sniffed, limits, param)


@contextlib.contextmanager
def _service_errors(param: str) -> Iterator[None]:
    """Whatever Pillow raises on hostile input becomes a ``ServiceError``."""
    try:
        yield
    except ServiceError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError):
        raise _too_large("The image is too large to decode.", param) from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many exception types on hostile input
        logger.debug("image decoding failed: %s: %s", type(exc).__name__, exc)
        raise _invalid_image("The image data is corrupt or truncated.", param) from None


def _check_bytes(data: bytes, declared_type: str | None, limits: ImageLimits, param: str) -> str:
    """The checks on the encoded bytes; returns the sniffed media type."""
    if not isinstance(data, bytes | bytearray):
        raise InvalidRequestError("The image must be bytes.", param=param, code="invalid_type")
    if not data:
        raise InvalidRequestError("The image data is empty.", param=param, code="empty_image")
    if len(data) > limits.max_encoded_bytes:
        raise _too_large(f"The image is larger than the limit of {limits.max_encoded_bytes} bytes.", param)
    sniffed = _sniff_or_refuse(data, param)
    _check_declared_type(declared_type, sniffed, param)
    if sniffed == JPEG:
        _check_jpeg_scans(data, limits, param)
    return sniffed


@contextlib.contextmanager
def _open_checked(data: bytes, sniffed: str, limits: ImageLimits, param: str) -> Iterator[Image.Image]:
    """The image opened with its sniffed format's plugin only, its header checked against the limits."""
    with Image.open(BytesIO(data), formats=[_PIL_PLUGIN[sniffed]]) as img:
        if img.format not in _PIL_FORMATS[sniffed]:
            raise _invalid_image(f"The image content does not match its {sniffed} signature.", param)
        _check_dimensions(img.width, img.height, limits, param)
        yield img


def _decode(data: bytes, sniffed: str, limits: ImageLimits, param: str) -> ImagePart:
    with _open_checked(data, sniffed, limits, param) as img:
        img.load()
        oriented = _exif_transpose(img)
    rgb = _to_rgb(oriented)
    return ImagePart(image=_fit_pixel_budget(rgb, limits), mime_type=sniffed, encoded_bytes=len(data))


def _sniff_or_refuse(data: bytes, param: str) -> str:
    sniffed = sniff_image_type(bytes(data[: _WEBP_MAGIC_OFFSET + len(_WEBP_MAGIC)]))
    if sniffed is None:
        raise UnsupportedMediaTypeError(
            "Unsupported image format; send JPEG, PNG, WebP or GIF.",
            param=param,
            code="unsupported_image_type",
        )
    return sniffed


def _check_jpeg_scans(data: bytes, limits: ImageLimits, param: str) -> None:
    """Refuse a progressive-JPEG scan bomb before decoding it: every scan re-walks the whole image's
    coefficients, so thousands of tiny scans in a small file cost minutes of CPU. Start-of-scan markers
    (FF DA) cannot occur inside entropy-coded data (an FF there is always stuffed or a marker); an EXIF
    thumbnail adds its own one or two, which the limit's headroom absorbs."""
    if limits.max_jpeg_scans is None:
        return
    scans = data.count(_JPEG_START_OF_SCAN)
    if scans > limits.max_jpeg_scans:
        raise UnprocessableEntityError(
            f"The JPEG has {scans} scans; the limit is {limits.max_jpeg_scans}.",
            param=param,
            code="too_many_jpeg_scans",
        )


def _check_declared_type(declared_type: str | None, sniffed: str, param: str) -> None:
    """``application/octet-stream`` declares nothing, so it never contradicts the bytes."""
    if declared_type is None:
        return
    declared = normalize_media_type(declared_type)
    if declared in _UNDECLARED_TYPES or declared == sniffed:
        return
    raise UnsupportedMediaTypeError(
        f"The image is declared as {declared[:64]!r} but its content is {sniffed}.",
        param=param,
        code="media_type_mismatch",
    )


def _check_dimensions(width: int, height: int, limits: ImageLimits, param: str) -> None:
    if width < 1 or height < 1:
        raise _invalid_image("The image has no pixels.", param)
    if max(width, height) > limits.max_side:
        raise _too_large(f"The image is {width}x{height}; each side must be at most {limits.max_side}.", param)
    pixels = width * height
    if pixels > limits.max_pixels:
        raise _too_large(f"The image has {pixels} pixels; the limit is {limits.max_pixels}.", param)
    if pixels * _RGB_CHANNELS > limits.max_decoded_bytes:
        raise _too_large(f"The decoded image would exceed {limits.max_decoded_bytes} bytes.", param)
    if max(width, height) / min(width, height) > limits.max_aspect_ratio:
        raise UnprocessableEntityError(
            f"The image is {width}x{height}; its aspect ratio must be at most {limits.max_aspect_ratio:g}.",
            param=param,
            code="invalid_aspect_ratio",
        )


def _exif_transpose(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; broken EXIF only costs the orientation, not the image."""
    try:
        return ImageOps.exif_transpose(img)
    except Exception as exc:  # noqa: BLE001 - EXIF parsing raises assorted types on bad metadata
        logger.debug("ignoring unusable EXIF orientation: %s: %s", type(exc).__name__, exc)
        return img.copy()


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in _HIGH_BIT_DEPTH_MODES:
        img = _to_8_bit_grayscale(img)
    if img.has_transparency_data:
        background = Image.new("RGBA", img.size, _WHITE_RGBA)
        return Image.alpha_composite(background, img.convert("RGBA")).convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")


def _to_8_bit_grayscale(img: Image.Image) -> Image.Image:
    """Scale 16-bit samples (0..65535) to 0..255 with rounding; a 16-bit tRNS colour is dropped."""
    scaled = img.convert("I").point(lambda v: v * _SIXTEEN_TO_EIGHT_BIT + 0.5).convert("L")
    scaled.info.pop("transparency", None)
    return scaled


def _fit_pixel_budget(img: Image.Image, limits: ImageLimits) -> Image.Image:
    size = target_size(img.width, img.height, limits)
    if size == img.size:
        return img
    return img.resize(size, Image.Resampling.BICUBIC)


def target_size(width: int, height: int, limits: ImageLimits) -> tuple[int, int]:
    """The size, aspect ratio kept, that brings ``width*height`` within the resize pixel budget."""
    pixels = width * height
    high, low = limits.resize_max_pixels, limits.resize_min_pixels
    if high is not None and pixels > high:
        return _shrink(width, height, high)
    if low is not None and pixels < low:
        scale = math.sqrt(low / pixels)
        grown = math.ceil(width * scale), math.ceil(height * scale)
        if high is None or grown[0] * grown[1] <= high:
            return grown
        return _shrink(*grown, high)
    return width, height


def _shrink(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    scale = math.sqrt(max_pixels / (width * height))
    new_w, new_h = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    while new_w * new_h > max_pixels:  # float rounding, or a side clamped to 1
        if new_w >= new_h:
            new_w -= 1
        else:
            new_h -= 1
    return new_w, new_h


def _too_large(message: str, param: str) -> PayloadTooLargeError:
    return PayloadTooLargeError(message, param=param, code="image_too_large")


def _invalid_image(message: str, param: str) -> UnprocessableEntityError:
    return UnprocessableEntityError(message, param=param, code="invalid_image")


def image_sha256(image: Image.Image) -> str:
    """Hash of the decoded pixels (mode and size included): the same picture in another container
    format hashes the same. Audit records and the response cache key use it."""
    digest = hashlib.sha256(f"{image.mode}:{image.width}x{image.height}:".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()
