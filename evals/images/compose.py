"""Whole images of each group: text images, QR codes, pictures; one image or a group's worth."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator, Sequence

import numpy as np
from PIL import Image

from evals.images.backgrounds import background, photo_samples, picture
from evals.images.fonts import face_for
from evals.images.model import (
    BACKGROUNDS,
    EXPECTED,
    FONT_SIZES,
    GROUPS,
    JPEG_QUALITIES,
    MAX_ROTATION,
    SIZES,
    GeneratedImage,
    Language,
    Quad,
    RenderedLine,
)
from evals.images.render import draw_line, encode, fit_font, fitting_rotation, rotate, turned_half_extents
from evals.images.templates import QR_BENIGN, QR_CONTACT, TEXT_TEMPLATES, ean13


def _language_of(group: str) -> Language:
    return "zh" if group.endswith("/zh") else "en" if group.endswith("/en") else "none"


def _text_image(group: str, index: int, rng: random.Random, nprng: np.random.Generator) -> GeneratedImage:
    kind, language = group.split("/")[0], _language_of(group)
    size = rng.choice(SIZES)
    bg = rng.choice(BACKGROUNDS)
    image = background(bg, size, rng, nprng)
    positive = kind in EXPECTED
    texts: list[tuple[str, bool]] = []
    if positive:
        texts.append((rng.choice(TEXT_TEMPLATES[group])(rng), True))
        distractors = rng.randint(0, 2)
    else:
        distractors = rng.randint(1, 4)
    labels = TEXT_TEMPLATES[f"label/{language}"]
    texts += [(rng.choice(labels)(rng), False) for _ in range(distractors)]
    rng.shuffle(texts)
    barcode_box = _paste_barcode(image, rng) if kind == "label" and rng.random() < 0.25 else None
    usable_height = size[1] if barcode_box is None else barcode_box[0][1] - 8
    band = usable_height / len(texts)
    busy = bg in ("photo", "texture", "noise")
    lines: list[RenderedLine] = []
    for row, (text, target) in enumerate(texts):
        face = face_for(language, rng)
        font, font_size = fit_font(face, text, rng.choice(FONT_SIZES), int(size[0] * 0.92))
        rotation = rng.uniform(-MAX_ROTATION, MAX_ROTATION) if rng.random() < 0.7 else 0.0
        left, top, right, bottom = font.getbbox(text)
        rotation = fitting_rotation(right - left, bottom - top, rotation, band)
        half_w, half_h = turned_half_extents(right - left, bottom - top, rotation)
        centre_x = rng.uniform(half_w + 4, max(half_w + 5, size[0] - half_w - 4))
        low, high = band * row + half_h + 2, band * (row + 1) - half_h - 2
        centre_y = rng.uniform(low, high) if high > low else band * row + band / 2
        quad, used = draw_line(image, text, face, font_size, (centre_x, centre_y), rotation, rng, busy)
        lines.append(RenderedLine(text, language, quad, face.name, used, rotation, target))
    quality = rng.choice(JPEG_QUALITIES)
    return GeneratedImage(
        id=f"{group}#{index}",
        group=group,
        kind=kind,
        language=language,
        image=encode(image, quality),
        lines=tuple(lines),
        expected=EXPECTED.get(kind, frozenset()),
        background=bg,
        jpeg_quality=quality,
        code_box=barcode_box,
    )


def _paste_barcode(image: Image.Image, rng: random.Random) -> Quad | None:
    """A real EAN-13 barcode (python-barcode) in a corner, as on a product label."""
    try:
        from barcode import EAN13
        from barcode.writer import ImageWriter
    except ImportError:
        return None
    rendered = EAN13(ean13(rng)[:12], writer=ImageWriter()).render(
        {"module_width": 0.3, "module_height": 12.0, "write_text": False, "quiet_zone": 4.0, "dpi": 200}
    )
    rendered = rendered.convert("RGB")
    x = rng.choice((8, image.width - rendered.width - 8))
    y = image.height - rendered.height - 8
    image.paste(rendered, (x, y))
    return ((x, y), (x + rendered.width, y), (x + rendered.width, y + rendered.height), (x, y + rendered.height))


def _qr_image(group: str, index: int, rng: random.Random, nprng: np.random.Generator) -> GeneratedImage:
    import segno

    templates = QR_CONTACT if group == "qr_contact" else QR_BENIGN
    payload = rng.choice(templates)(rng)
    size = rng.choice(SIZES)
    bg = rng.choice(BACKGROUNDS)
    image = background(bg, size, rng, nprng)
    code = segno.make(payload, error=rng.choice("lmqh"), micro=False)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=rng.randint(3, 8), border=rng.randint(2, 4))
    buffer.seek(0)
    qr = Image.open(buffer).convert("RGB")
    rotation = rng.uniform(-MAX_ROTATION, MAX_ROTATION) if rng.random() < 0.5 else 0.0
    mask = Image.new("L", qr.size, 255)
    turned = qr.rotate(rotation, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    turned_mask = mask.rotate(rotation, expand=True)
    x = rng.randint(0, max(0, size[0] - turned.width))
    y = rng.randint(0, max(0, size[1] - turned.height))
    image.paste(turned, (x, y), turned_mask)
    corners = rotate(
        [(0, 0), (qr.width, 0), (qr.width, qr.height), (0, qr.height)], (qr.width / 2, qr.height / 2), rotation
    )
    dx, dy = x + (turned.width - qr.width) / 2, y + (turned.height - qr.height) / 2
    a, b, c, d = ((px + dx, py + dy) for px, py in corners)
    quality = rng.choice(JPEG_QUALITIES)
    return GeneratedImage(
        id=f"{group}#{index}",
        group=group,
        kind=group,
        language="none",
        image=encode(image, quality),
        lines=(),
        expected=EXPECTED.get(group, frozenset()),
        background=bg,
        jpeg_quality=quality,
        payload=payload,
        code_box=(a, b, c, d),
    )


def _picture_image(group: str, index: int, rng: random.Random, nprng: np.random.Generator) -> GeneratedImage:
    size = rng.choice(SIZES)
    if group == "photo":
        image, bg = background("photo", size, rng, nprng), "photo"
    else:
        image, bg = picture(size, rng, nprng), "shapes"
    quality = rng.choice(JPEG_QUALITIES)
    return GeneratedImage(
        f"{group}#{index}", group, group, "none", encode(image, quality), (), frozenset(), bg, quality
    )


def generate_one(group: str, index: int, seed: int) -> GeneratedImage:
    """Image ``index`` of ``group``; the same (group, index, seed) always draws the same image."""
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}; one of {GROUPS}")
    rng = random.Random(f"{seed}:{group}:{index}")
    nprng = np.random.default_rng(rng.getrandbits(64))
    if group in TEXT_TEMPLATES:
        return _text_image(group, index, rng, nprng)
    if group.startswith("qr_"):
        return _qr_image(group, index, rng, nprng)
    return _picture_image(group, index, rng, nprng)


def generate(seed: int, per_group: int, groups: Sequence[str] = GROUPS) -> Iterator[GeneratedImage]:
    """``per_group`` images of each group, lazily (a few MB each). ``photo`` yields nothing where
    scikit-image's samples are not installed."""
    for group in groups:
        if group == "photo" and not photo_samples():
            continue
        for index in range(per_group):
            yield generate_one(group, index, seed)
