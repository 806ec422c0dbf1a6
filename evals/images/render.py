"""Text drawn on an image: contrast, fitting, rotation, banners and outlines; the upload's JPEG pass."""

from __future__ import annotations

import io
import math
import random
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from evals.images.backgrounds import random_colour
from evals.images.fonts import FontFace
from evals.images.model import FONT_SIZES, MIN_CONTRAST, Point, Quad

# --- text rendering ----------------------------------------------------------------------------------


def _luminance(colour: Sequence[float]) -> float:
    return 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]


def _text_colour(under: Image.Image, rng: random.Random) -> tuple[tuple[int, int, int], float]:
    """A random colour at least MIN_CONTRAST from the mean luminance under the text; and that luminance."""
    mean = np.asarray(under, np.float32).reshape(-1, 3).mean(axis=0)
    base = _luminance(mean)
    for _ in range(64):
        colour = random_colour(rng)
        if abs(_luminance(colour) - base) >= MIN_CONTRAST:
            return colour, base
    return ((0, 0, 0) if base > 127 else (255, 255, 255)), base


def fit_font(face: FontFace, text: str, size: int, max_width: int) -> tuple[ImageFont.FreeTypeFont, int]:
    while size > FONT_SIZES[0]:
        font = face.at(size)
        if font.getlength(text) <= max_width:
            return font, size
        size -= 2
    return face.at(size), size


def rotate(points: Sequence[Point], centre: Point, degrees: float) -> list[Point]:
    """PIL's ``rotate(angle)`` turns counter-clockwise on screen: with y down, that is this matrix."""
    theta = math.radians(degrees)
    cos, sin = math.cos(theta), math.sin(theta)
    cx, cy = centre
    return [(cx + (x - cx) * cos + (y - cy) * sin, cy - (x - cx) * sin + (y - cy) * cos) for x, y in points]


def draw_line(
    image: Image.Image,
    text: str,
    face: FontFace,
    size: int,
    centre: Point,
    rotation: float,
    rng: random.Random,
    busy: bool = False,
) -> tuple[Quad, int]:
    """Draw ``text`` centred at ``centre``, turned by ``rotation`` degrees; the ink's quad and the size
    used. On a ``busy`` background (photo, texture, noise) the text gets a banner behind it or an
    outline, as ads printed on photos do, so a person can read it at a glance."""
    font, size = fit_font(face, text, size, int(image.width * 0.92))
    left, top, right, bottom = font.getbbox(text)
    margin = size
    layer_w, layer_h = right - left + 2 * margin, bottom - top + 2 * margin
    region = image.crop(
        (
            max(0, int(centre[0] - layer_w / 2)),
            max(0, int(centre[1] - layer_h / 2)),
            min(image.width, int(centre[0] + layer_w / 2)),
            min(image.height, int(centre[1] + layer_h / 2)),
        )
    )
    layer = Image.new("RGBA", (layer_w, layer_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    banner = busy and rng.random() < 0.5
    if banner:
        fill = random_colour(rng)
        pad = max(4, size // 4)
        draw.rounded_rectangle(
            (margin - pad, margin - pad, layer_w - margin + pad, layer_h - margin + pad), radius=pad, fill=(*fill, 235)
        )
        region = Image.new("RGB", (8, 8), fill)
    colour, under = _text_colour(region, rng)
    stroke = 0
    if busy and not banner:
        stroke = max(1, size // 16)
    elif size >= 24:
        stroke = rng.choice((0, 0, 0, 1, 2))
    stroke_fill = (0, 0, 0) if _luminance(colour) > under else (255, 255, 255)
    if busy and not banner:
        stroke_fill = (0, 0, 0) if _luminance(colour) > 127 else (255, 255, 255)
    draw.text(
        (margin - left, margin - top),
        text,
        font=font,
        fill=(*colour, 255),
        stroke_width=stroke,
        stroke_fill=stroke_fill,
    )
    turned = layer.rotate(rotation, resample=Image.Resampling.BICUBIC, expand=True)
    offset = (round(centre[0] - turned.width / 2), round(centre[1] - turned.height / 2))
    image.paste(turned, offset, turned)
    ink = [
        (margin, margin),
        (layer_w - margin, margin),
        (layer_w - margin, layer_h - margin),
        (margin, layer_h - margin),
    ]
    turned_centre = (turned.width / 2, turned.height / 2)
    shifted = [(x - layer_w / 2 + turned_centre[0], y - layer_h / 2 + turned_centre[1]) for x, y in ink]
    corners = rotate(shifted, turned_centre, rotation)
    a, b, c, d = ((x + offset[0], y + offset[1]) for x, y in corners)
    return (a, b, c, d), size


def turned_half_extents(width: float, height: float, rotation: float) -> tuple[float, float]:
    """Half the width and height of the axis-aligned box around a width x height box turned by ``rotation``."""
    cos, sin = abs(math.cos(math.radians(rotation))), abs(math.sin(math.radians(rotation)))
    return (width * cos + height * sin) / 2, (width * sin + height * cos) / 2


def fitting_rotation(width: float, height: float, rotation: float, band: float) -> float:
    """``rotation``, reduced until the turned line fits in its band (lines of one image never overlap)."""
    while abs(rotation) > 0.5 and 2 * turned_half_extents(width, height, rotation)[1] + 4 > band:
        rotation *= 0.8
    return rotation if abs(rotation) > 0.5 else 0.0


def encode(image: Image.Image, quality: int | None) -> Image.Image:
    """The image as an upload would carry it: through a JPEG at ``quality`` (None: lossless)."""
    if quality is None:
        return image
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    decoded = Image.open(buffer)
    decoded.load()
    return decoded.convert("RGB")
