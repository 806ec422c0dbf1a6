"""Backgrounds and benign pictures: plain, gradient, noise, texture, photographs, soft shapes."""

from __future__ import annotations

import math
import random
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# scikit-image samples that are photographs without text of their own.
PHOTO_SAMPLES = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle_left", "brick", "grass", "gravel")


# --- backgrounds -------------------------------------------------------------------------------------


def random_colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))


def _gradient(size: tuple[int, int], rng: random.Random) -> np.ndarray:
    width, height = size
    angle = rng.uniform(0, 2 * math.pi)
    xs, ys = np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
    t = xs[None, :] * math.cos(angle) + ys[:, None] * math.sin(angle)
    t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
    a, b = np.array(random_colour(rng), np.float32), np.array(random_colour(rng), np.float32)
    return a + (b - a) * t[..., None]


def _value_noise(size: tuple[int, int], nprng: np.random.Generator, octaves: int = 5) -> np.ndarray:
    """Multi-scale smooth noise in [0, 1]: a cheap stand-in for photographic texture."""
    width, height = size
    total = np.zeros((height, width), np.float32)
    weight_sum = 0.0
    for octave in range(octaves):
        cells = 2 ** (octave + 2)
        grid = Image.fromarray((nprng.random((cells, cells)) * 255).astype(np.uint8))
        layer = np.asarray(grid.resize((width, height), Image.Resampling.BICUBIC), np.float32) / 255
        weight = 0.55**octave
        total += weight * layer
        weight_sum += weight
    return total / weight_sum


def _photo_sample(name: str) -> Image.Image | None:
    try:
        from skimage import data
    except ImportError:
        return None
    loader = getattr(data, name, None)
    if loader is None:
        return None
    pixels = np.asarray(loader())
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    return Image.fromarray(pixels[..., :3].astype(np.uint8))


@cache
def photo_samples() -> tuple[str, ...]:
    """The scikit-image samples available here (none when scikit-image is not installed)."""
    return tuple(name for name in PHOTO_SAMPLES if _photo_sample(name) is not None)


def _cover(photo: Image.Image, size: tuple[int, int], rng: random.Random) -> Image.Image:
    """The photo scaled to cover ``size`` and cropped at a random offset."""
    scale = max(size[0] / photo.width, size[1] / photo.height) * rng.uniform(1.0, 1.3)
    scaled = photo.resize((math.ceil(photo.width * scale), math.ceil(photo.height * scale)), Image.Resampling.BICUBIC)
    left = rng.randint(0, scaled.width - size[0])
    top = rng.randint(0, scaled.height - size[1])
    return scaled.crop((left, top, left + size[0], top + size[1]))


def background(kind: str, size: tuple[int, int], rng: random.Random, nprng: np.random.Generator) -> Image.Image:
    width, height = size
    if kind == "plain":
        return Image.new("RGB", size, random_colour(rng))
    if kind == "gradient":
        return Image.fromarray(_gradient(size, rng).clip(0, 255).astype(np.uint8))
    if kind == "noise":
        base = np.full((height, width, 3), random_colour(rng), np.float32)
        base += nprng.normal(0, rng.uniform(8, 25), (height, width, 3)).astype(np.float32)
        return Image.fromarray(base.clip(0, 255).astype(np.uint8))
    if kind == "texture":
        t = _value_noise(size, nprng)[..., None]
        a, b = np.array(random_colour(rng), np.float32), np.array(random_colour(rng), np.float32)
        return Image.fromarray((a + (b - a) * t).clip(0, 255).astype(np.uint8))
    if kind == "photo":
        names = photo_samples()
        if names:
            sample = _photo_sample(rng.choice(names))
            if sample is not None:
                return _cover(sample, size, rng)
        return background("texture", size, rng, nprng)
    raise ValueError(f"unknown background {kind!r}")


def picture(size: tuple[int, int], rng: random.Random, nprng: np.random.Generator) -> Image.Image:
    """A benign picture without text: a backdrop with a few soft shapes (a product shot's blobs)."""
    image = background(rng.choice(("gradient", "texture", "noise")), size, rng, nprng)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(1, 5)):
        x0, y0 = rng.randint(0, size[0] - 40), rng.randint(0, size[1] - 40)
        x1, y1 = rng.randint(x0 + 30, size[0]), rng.randint(y0 + 30, size[1])
        shape = rng.choice(("ellipse", "rounded", "polygon"))
        colour = random_colour(rng)
        if shape == "ellipse":
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == "rounded":
            draw.rounded_rectangle((x0, y0, x1, y1), radius=rng.randint(4, 40), fill=colour)
        else:
            points = [(rng.randint(x0, x1), rng.randint(y0, y1)) for _ in range(rng.randint(3, 6))]
            draw.polygon(points, fill=colour)
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0, 2.5)))
