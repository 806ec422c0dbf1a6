from __future__ import annotations

import base64
import random
import resource
import time
import tracemalloc
from collections.abc import Callable
from io import BytesIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from evals.hostile import jpeg_scan_bomb
from pipelines.core.errors import (
    InvalidRequestError,
    PayloadTooLargeError,
    ServiceError,
    UnprocessableEntityError,
    UnsupportedMediaTypeError,
)
from pipelines.core.types import ImagePart
from pipelines.inputs.data_url import parse_image_source
from pipelines.inputs.images import ImageLimits, decode_image, sniff_image_type, target_size
from pipelines.inputs.validation import ValidationLimits

PARAM = "messages[0].content[0].image_url.url"
Encoder = Callable[..., bytes]

MAGICS = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBP", b"RIFF"]


def decode(data: bytes, limits: ValidationLimits, declared: str | None = None) -> ImagePart:
    part = decode_image(data, declared_type=declared, limits=limits.image_limits, param=PARAM)
    assert part.image.mode == "RGB"
    return part


def expect_error(
    data: bytes, limits: ValidationLimits, cls: type[ServiceError], code: str, declared: str | None = None
) -> ServiceError:
    with pytest.raises(cls) as info:
        decode_image(data, declared_type=declared, limits=limits.image_limits, param=PARAM)
    assert type(info.value) is cls
    assert (info.value.code, info.value.param) == (code, PARAM)
    return info.value


def noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    return Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 8) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


# --- sniffing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xd8\xff\xe0rest", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\nrest", "image/png"),
        (b"GIF87a..", "image/gif"),
        (b"GIF89a..", "image/gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", None),
        (b"BM\x00\x00", None),
        (b"\x89PN", None),
        (b"", None),
    ],
)
def test_sniff_image_type(data: bytes, expected: str | None) -> None:
    assert sniff_image_type(data) == expected


# --- accepted ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime", "kwargs"),
    [
        ("PNG", "image/png", {}),
        ("JPEG", "image/jpeg", {"quality": 95}),
        ("WEBP", "image/webp", {"lossless": True}),
        ("GIF", "image/gif", {}),
    ],
)
def test_formats(image_bytes: Encoder, no_resize_limits: ValidationLimits, fmt: str, mime: str, kwargs: dict) -> None:
    data = image_bytes(Image.new("RGB", (24, 16), (200, 40, 40)), fmt, **kwargs)
    part = decode(data, no_resize_limits, declared=mime)
    assert (part.mime_type, part.encoded_bytes, part.image.size) == (mime, len(data), (24, 16))
    assert close_to(part.image.getpixel((5, 5)), (200, 40, 40))


@pytest.mark.parametrize("declared", ["image/jpg", "IMAGE/JPEG", "image/jpeg; q=1", "application/octet-stream"])
def test_declared_type_aliases(image_bytes: Encoder, no_resize_limits: ValidationLimits, declared: str) -> None:
    assert decode(image_bytes(noise((8, 8)), "JPEG"), no_resize_limits, declared).mime_type == "image/jpeg"


def test_gif_first_frame(image_bytes: Encoder, no_resize_limits: ValidationLimits) -> None:
    red, blue = Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))
    data = image_bytes(red, "GIF", save_all=True, append_images=[blue], duration=10)
    assert decode(data, no_resize_limits).image.getpixel((3, 3)) == (255, 0, 0)


def test_exif_rotation_is_applied(image_bytes: Encoder, no_resize_limits: ValidationLimits) -> None:
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 20, 20))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs a 90 degree clockwise turn
    part = decode(image_bytes(img, "JPEG", exif=exif, quality=95), no_resize_limits)
    assert part.image.size == (20, 40)
    assert close_to(part.image.getpixel((10, 5)), (255, 0, 0), 40)  # left half is now on top
    assert close_to(part.image.getpixel((10, 35)), (0, 0, 255), 40)


@pytest.mark.parametrize(("fmt", "colour", "pixel"), [("PNG", (255, 0, 0), (1, 1)), ("GIF", (0, 255, 0), (2, 2))])
def test_palette_with_transparency_on_white(
    image_bytes: Encoder,
    no_resize_limits: ValidationLimits,
    fmt: str,
    colour: tuple[int, int, int],
    pixel: tuple[int, int],
) -> None:
    """Palette index 0 transparent (white after decoding), index 1 ``colour`` at ``pixel``."""
    img = Image.new("P", (4, 4), 0)
    img.putpalette([0, 0, 0, *colour] + [0] * 762)
    img.putpixel(pixel, 1)
    part = decode(image_bytes(img, fmt, transparency=0), no_resize_limits)
    assert part.image.getpixel((0, 0)) == (255, 255, 255)
    assert part.image.getpixel(pixel) == colour


def test_rgba_on_white(image_bytes: Encoder, no_resize_limits: ValidationLimits) -> None:
    img = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    img.putpixel((1, 1), (0, 0, 255, 255))
    img.putpixel((2, 2), (0, 0, 0, 128))
    part = decode(image_bytes(img, "PNG"), no_resize_limits)
    assert part.image.getpixel((0, 0)) == (255, 255, 255)
    assert part.image.getpixel((1, 1)) == (0, 0, 255)
    assert close_to(part.image.getpixel((2, 2)), (127, 127, 127), 1)


def test_la_on_white(image_bytes: Encoder, no_resize_limits: ValidationLimits) -> None:
    img = Image.new("LA", (2, 2), (0, 0))
    img.putpixel((1, 1), (50, 255))
    part = decode(image_bytes(img, "PNG"), no_resize_limits)
    assert part.image.getpixel((0, 0)) == (255, 255, 255)
    assert part.image.getpixel((1, 1)) == (50, 50, 50)


def test_cmyk_jpeg(image_bytes: Encoder, no_resize_limits: ValidationLimits) -> None:
    data = image_bytes(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95)
    assert Image.open(BytesIO(data)).mode == "CMYK"
    assert close_to(decode(data, no_resize_limits).image.getpixel((8, 8)), (255, 0, 0), 12)


def test_16_bit_grayscale_png_is_scaled(image_bytes: Encoder, no_resize_limits: ValidationLimits) -> None:
    img = Image.new("I;16", (3, 1))
    for x, value in enumerate((65535, 32768, 0)):
        img.putpixel((x, 0), value)
    part = decode(image_bytes(img, "PNG"), no_resize_limits)
    assert [part.image.getpixel((x, 0)) for x in range(3)] == [(255,) * 3, (128,) * 3, (0,) * 3]


@pytest.mark.parametrize("mode", ["L", "1"])
def test_grayscale_and_bilevel(image_bytes: Encoder, no_resize_limits: ValidationLimits, mode: str) -> None:
    img = Image.new(mode, (4, 4), 255)
    img.putpixel((0, 0), 0)
    part = decode(image_bytes(img, "PNG"), no_resize_limits)
    assert part.image.getpixel((0, 0)) == (0, 0, 0)
    assert part.image.getpixel((1, 1)) == (255, 255, 255)


def test_large_images_are_downscaled_to_the_pixel_budget(image_bytes: Encoder) -> None:
    limits = ValidationLimits(resize_max_pixels=1000, resize_min_pixels=100)
    part = decode(image_bytes(noise((200, 100)), "PNG"), limits)
    width, height = part.image.size
    assert width * height <= 1000 and width * height > 900
    assert abs(width / height - 2) < 0.1


def test_small_images_are_upscaled_to_the_pixel_budget(image_bytes: Encoder) -> None:
    limits = ValidationLimits(resize_max_pixels=10_000, resize_min_pixels=1000)
    part = decode(image_bytes(noise((20, 10)), "PNG"), limits)
    width, height = part.image.size
    assert width * height >= 1000 and abs(width / height - 2) < 0.1


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 5000),
    st.integers(1, 5000),
    st.integers(1, 10**6),
    st.one_of(st.none(), st.integers(1, 10**6)),
)
def test_target_size_respects_the_budget(width: int, height: int, high: int, low: int | None) -> None:
    if low is not None and low > high:
        low, high = high, low
    limits = ImageLimits(1, 1, 1, 1, 1.0, resize_max_pixels=high, resize_min_pixels=low)
    new_w, new_h = target_size(width, height, limits)
    assert new_w >= 1 and new_h >= 1 and new_w * new_h <= high
    if width * height <= high and (low is None or width * height >= low):
        assert (new_w, new_h) == (width, height)


# --- refused -------------------------------------------------------------------------------------


def test_empty(no_resize_limits: ValidationLimits) -> None:
    assert expect_error(b"", no_resize_limits, InvalidRequestError, "empty_image").status == 400


def test_declared_jpeg_but_png_bytes(image_bytes: Encoder, no_resize_limits: ValidationLimits) -> None:
    data = image_bytes(noise((4, 4)), "PNG")
    err = expect_error(data, no_resize_limits, UnsupportedMediaTypeError, "media_type_mismatch", "image/jpeg")
    assert err.status == 415


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "ICO"])
def test_unknown_magic(image_bytes: Encoder, no_resize_limits: ValidationLimits, fmt: str) -> None:
    data = image_bytes(noise((16, 16)), fmt)
    assert expect_error(data, no_resize_limits, UnsupportedMediaTypeError, "unsupported_image_type").status == 415


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_truncated(image_bytes: Encoder, no_resize_limits: ValidationLimits, fmt: str) -> None:
    data = image_bytes(noise((64, 64)), fmt)
    truncated = data[: len(data) // 2]
    assert expect_error(truncated, no_resize_limits, UnprocessableEntityError, "invalid_image").status == 422


@pytest.mark.parametrize("magic", MAGICS[:-1])
def test_magic_followed_by_garbage(no_resize_limits: ValidationLimits, magic: bytes) -> None:
    data = magic + bytes(range(256)) * 4
    assert expect_error(data, no_resize_limits, UnprocessableEntityError, "invalid_image").status == 422


def test_png_bomb_is_refused_without_allocating(header_only_png: Callable[[int, int], bytes]) -> None:
    data = header_only_png(50_000, 50_000)
    assert len(data) < 200
    limits = ValidationLimits()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    started = time.perf_counter()
    try:
        expect_error(data, limits, PayloadTooLargeError, "image_too_large")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    assert time.perf_counter() - started < 1
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 100_000  # KiB


def test_pixel_limit_is_checked_from_the_header(header_only_png: Callable[[int, int], bytes]) -> None:
    """8000x6000 is below Pillow's own bomb threshold, so this is our header check."""
    err = expect_error(header_only_png(8000, 6000), ValidationLimits(), PayloadTooLargeError, "image_too_large")
    assert "pixels" in err.message and err.status == 413


def test_pillow_bomb_error_is_mapped(header_only_png: Callable[[int, int], bytes]) -> None:
    limits = ValidationLimits(max_image_pixels=10**12, max_image_decoded_bytes=10**13, max_image_side=10**6)
    expect_error(header_only_png(100_000, 100_000), limits, PayloadTooLargeError, "image_too_large")


def test_side_limit(header_only_png: Callable[[int, int], bytes]) -> None:
    err = expect_error(header_only_png(20_000, 100), ValidationLimits(), PayloadTooLargeError, "image_too_large")
    assert "side" in err.message


def test_decoded_bytes_limit(header_only_png: Callable[[int, int], bytes]) -> None:
    limits = ValidationLimits(max_image_decoded_bytes=3 * 100 * 100 - 1)
    expect_error(header_only_png(100, 100), limits, PayloadTooLargeError, "image_too_large")


def test_aspect_ratio_limit(header_only_png: Callable[[int, int], bytes]) -> None:
    err = expect_error(header_only_png(1000, 2), ValidationLimits(), UnprocessableEntityError, "invalid_aspect_ratio")
    assert err.status == 422


def test_jpeg_header_bomb(image_bytes: Encoder) -> None:
    data = bytearray(image_bytes(noise((8, 8)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (60_000).to_bytes(2, "big") * 2  # height, width
    expect_error(bytes(data), ValidationLimits(), PayloadTooLargeError, "image_too_large")


def test_gif_header_bomb(image_bytes: Encoder) -> None:
    data = bytearray(image_bytes(noise((8, 8)), "GIF"))
    data[6:10] = (65_535).to_bytes(2, "little") * 2  # logical screen width, height
    expect_error(bytes(data), ValidationLimits(), PayloadTooLargeError, "image_too_large")


def test_encoded_size_limit(image_bytes: Encoder) -> None:
    data = image_bytes(noise((32, 32)), "PNG")
    limits = ValidationLimits(max_image_encoded_bytes=len(data) - 1)
    expect_error(data, limits, PayloadTooLargeError, "image_too_large")


# --- properties ----------------------------------------------------------------------------------

PROPERTY_LIMITS = ValidationLimits(max_image_pixels=1_000_000, resize_min_pixels=None)


def _decode_anything(source: str) -> None:
    try:
        declared, data = parse_image_source(source, max_encoded_bytes=1_000_000, param=PARAM)
        part = decode_image(data, declared_type=declared, limits=PROPERTY_LIMITS.image_limits, param=PARAM)
    except ServiceError as err:
        assert err.param == PARAM
        return
    assert part.image.mode == "RGB"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_is_an_image_or_a_service_error(text: str) -> None:
    _decode_anything(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.booleans())
def test_arbitrary_base64_bytes_are_an_image_or_a_service_error(data: bytes, urlsafe: bool) -> None:
    _decode_anything((base64.urlsafe_b64encode(data) if urlsafe else base64.b64encode(data)).decode())


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(MAGICS), st.binary(max_size=600), st.sampled_from([None, "image/png", "image/gif"]))
def test_magic_prefixed_bytes_are_an_image_or_a_service_error(magic: bytes, tail: bytes, declared: str | None) -> None:
    try:
        part = decode_image(magic + tail, declared_type=declared, limits=PROPERTY_LIMITS.image_limits, param=PARAM)
    except ServiceError as err:
        assert err.param == PARAM
        return
    assert part.image.mode == "RGB"


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["PNG", "JPEG", "GIF", "WEBP"]), st.integers(1, 400), st.integers(0, 40))
def test_corrupted_real_images_are_an_image_or_a_service_error(fmt: str, cut: int, flips: int) -> None:
    rng = random.Random(cut * 1000 + flips)
    buf = BytesIO()
    noise((16, 16), seed=cut).save(buf, fmt)
    data = bytearray(buf.getvalue()[: max(cut, 12) if cut < 400 else None])
    for _ in range(flips):
        data[rng.randrange(len(data))] = rng.randrange(256)
    try:
        part = decode_image(bytes(data), declared_type=None, limits=PROPERTY_LIMITS.image_limits, param=PARAM)
    except ServiceError:
        return
    assert part.image.mode == "RGB"


def _progressive_jpeg(size: tuple[int, int] = (256, 256)) -> bytes:
    encoded = BytesIO()
    Image.effect_noise(size, 60).convert("RGB").save(encoded, "JPEG", progressive=True, quality=90)
    return encoded.getvalue()


def test_a_progressive_jpeg_scan_bomb_is_refused_before_decoding() -> None:
    limits = ValidationLimits().image_limits
    normal = _progressive_jpeg()
    assert 2 <= normal.count(b"\xff\xda") <= limits.max_jpeg_scans  # a real progressive JPEG passes
    assert decode_image(normal, declared_type="image/jpeg", limits=limits, param="image").image.size == (256, 256)

    bomb = jpeg_scan_bomb(2000)
    started = time.perf_counter()
    with pytest.raises(UnprocessableEntityError) as caught:
        decode_image(bomb, declared_type="image/jpeg", limits=limits, param="messages[0].content[0]")
    refused_s = time.perf_counter() - started
    assert caught.value.code == "too_many_jpeg_scans" and caught.value.param == "messages[0].content[0]"
    assert refused_s < 0.05, f"refused in {refused_s * 1000:.1f} ms"
    # what the limit saves: without it the same bomb costs several normal decodes (measured ~3x on
    # 2026-12-02, the least of five runs each: a busy machine only ever adds time)
    unlimited = ImageLimits(**{**vars(limits), "max_jpeg_scans": None})

    def fastest(data: bytes) -> float:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            decode_image(data, declared_type="image/jpeg", limits=unlimited, param="image")
            times.append(time.perf_counter() - started)
        return min(times)

    assert fastest(bomb) > 2 * fastest(normal)
