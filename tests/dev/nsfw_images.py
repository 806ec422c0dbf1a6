"""Benign images for the NSFW screen: sample photos shipped by image libraries, and generated pictures.

* scikit-image's bundled ``skimage/data`` (BSD-3-Clause package; images CC0 / public domain per its
  docstrings), including the ``lfw_subset`` of 100 faces and 100 non-faces (Labeled Faces in the
  Wild: no licence of its own; used as test input only, never redistributed by us). Optional: only
  present when scikit-image is installed (a dev dependency).
* scikit-learn's two sample photos (``china.jpg``, ``flower.jpg``: CC BY 2.0, see its README.txt).
* Generated, seeded pictures: product shots (bags, bottles, mugs, shoes, boxes, shirts on plain or
  gradient backgrounds, skin-like tones included), gradients, stripes, checkerboards, flat colours,
  noise and blurred noise.

Nothing here is, or resembles, NSFW content: the set measures false positives only.

``python -m tests.dev.nsfw_images`` prints the flag rate and per-image latency of the screen.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


@dataclass(frozen=True)
class NamedImage:
    name: str
    image: Image.Image


def skimage_samples() -> list[NamedImage]:
    """scikit-image's bundled photos and pictures (empty when it is not installed)."""
    try:
        import skimage.data
    except ImportError:
        return []
    folder = Path(skimage.data.__file__).parent
    out = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in (".png", ".jpg", ".gif"):
            with Image.open(path) as image:
                out.append(NamedImage(f"skimage/{path.name}", image.convert("RGB")))
    faces = np.load(folder / "lfw_subset.npy")  # float [200, 25, 25] in [0, 1]
    for index, face in enumerate(faces):
        out.append(NamedImage(f"skimage/lfw_subset[{index}]", Image.fromarray((face * 255).astype(np.uint8), "L")))
    return out


def sklearn_samples() -> list[NamedImage]:
    from sklearn.datasets import load_sample_images

    bunch = load_sample_images()
    return [
        NamedImage(f"sklearn/{Path(name).name}", Image.fromarray(array))
        for name, array in zip(bunch.filenames, bunch.images, strict=True)
    ]


# Product colours, skin-like tones on purpose (tan leather, beige fabric, peach packaging).
_COLOURS = [
    (200, 30, 40), (30, 60, 160), (20, 20, 20), (240, 240, 235), (210, 170, 130), (190, 140, 100),
    (230, 200, 170), (250, 215, 190), (120, 80, 50), (60, 140, 70), (240, 200, 40), (150, 150, 160),
]  # fmt: skip
_BACKGROUNDS = [(255, 255, 255), (245, 245, 245), (230, 230, 225), (250, 240, 230), (200, 210, 220)]


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    base = np.array(_COLOURS[rng.integers(len(_COLOURS))])
    return tuple(int(c) for c in np.clip(base + rng.integers(-15, 16, 3), 0, 255))


def product_shot(rng: np.random.Generator, size: tuple[int, int] = (800, 600)) -> Image.Image:
    """One object, centred, with a soft floor shadow, on a plain or gradient studio background."""
    width, height = size
    background = _BACKGROUNDS[rng.integers(len(_BACKGROUNDS))]
    image = Image.new("RGB", size, background)
    if rng.random() < 0.5:  # a vertical studio gradient
        shade = np.linspace(1.0, 0.85, height)[:, None, None]
        image = Image.fromarray((np.array(image, dtype=np.float64) * shade).astype(np.uint8))
    shadow = Image.new("L", size, 0)
    ImageDraw.Draw(shadow).ellipse((width * 0.25, height * 0.78, width * 0.75, height * 0.9), fill=90)
    shadow = shadow.filter(ImageFilter.GaussianBlur(18))
    image = Image.composite(Image.new("RGB", size, (80, 80, 80)), image, shadow)
    draw = ImageDraw.Draw(image)
    colour, accent = _colour(rng), _colour(rng)
    cx, cy, s = width / 2, height / 2, min(width, height) * (0.28 + 0.1 * rng.random())
    kind = ("bag", "bottle", "mug", "shoe", "box", "shirt", "watch")[rng.integers(7)]
    if kind == "bag":
        draw.arc((cx - s * 0.5, cy - s * 1.2, cx + s * 0.5, cy - s * 0.2), 180, 360, fill=accent, width=int(s * 0.08))
        draw.rounded_rectangle((cx - s, cy - s * 0.6, cx + s, cy + s * 0.9), radius=int(s * 0.15), fill=colour)
    elif kind == "bottle":
        draw.rectangle((cx - s * 0.35, cy - s * 0.4, cx + s * 0.35, cy + s * 1.0), fill=colour)
        draw.rectangle((cx - s * 0.12, cy - s * 0.9, cx + s * 0.12, cy - s * 0.4), fill=colour)
        draw.rectangle((cx - s * 0.14, cy - s * 1.05, cx + s * 0.14, cy - s * 0.9), fill=accent)
        draw.rectangle((cx - s * 0.35, cy, cx + s * 0.35, cy + s * 0.45), fill=accent)  # the label
    elif kind == "mug":
        draw.ellipse((cx + s * 0.35, cy - s * 0.35, cx + s * 0.95, cy + s * 0.35), outline=colour, width=int(s * 0.12))
        draw.rectangle((cx - s * 0.6, cy - s * 0.6, cx + s * 0.6, cy + s * 0.7), fill=colour)
    elif kind == "shoe":
        draw.ellipse((cx - s, cy, cx + s, cy + s * 0.6), fill=colour)
        draw.rectangle((cx - s, cy + s * 0.35, cx + s, cy + s * 0.55), fill=accent)  # the sole
        draw.ellipse((cx - s, cy - s * 0.4, cx, cy + s * 0.4), fill=colour)
    elif kind == "box":
        front = [(cx - s, cy - s * 0.4), (cx + s * 0.5, cy - s * 0.4), (cx + s * 0.5, cy + s), (cx - s, cy + s)]
        top = [(cx - s, cy - s * 0.4), (cx - s / 2, cy - s * 0.9), (cx + s, cy - s * 0.9), (cx + s / 2, cy - s * 0.4)]
        side = [(cx + s * 0.5, cy - s * 0.4), (cx + s, cy - s * 0.9), (cx + s, cy + s * 0.5), (cx + s * 0.5, cy + s)]
        draw.polygon(front, fill=colour)
        draw.polygon(top, fill=tuple(min(255, c + 30) for c in colour))
        draw.polygon(side, fill=tuple(max(0, c - 40) for c in colour))
    elif kind == "shirt":
        body = [
            (cx - s * 0.6, cy - s), (cx - s * 0.2, cy - s), (cx, cy - s * 0.8), (cx + s * 0.2, cy - s),
            (cx + s * 0.6, cy - s), (cx + s * 1.1, cy - s * 0.5), (cx + s * 0.8, cy - s * 0.2),
            (cx + s * 0.6, cy - s * 0.4), (cx + s * 0.6, cy + s), (cx - s * 0.6, cy + s),
            (cx - s * 0.6, cy - s * 0.4), (cx - s * 0.8, cy - s * 0.2), (cx - s * 1.1, cy - s * 0.5),
        ]  # fmt: skip
        draw.polygon(body, fill=colour)
    else:  # watch
        draw.rectangle((cx - s * 0.25, cy - s * 1.1, cx + s * 0.25, cy + s * 1.1), fill=accent)
        draw.ellipse((cx - s * 0.5, cy - s * 0.5, cx + s * 0.5, cy + s * 0.5), fill=colour, outline=(40, 40, 40))
        draw.line((cx, cy, cx, cy - s * 0.35), fill=(20, 20, 20), width=4)
        draw.line((cx, cy, cx + s * 0.25, cy), fill=(20, 20, 20), width=4)
    if rng.random() < 0.5:
        draw.text((width * 0.05, height * 0.05), "NEW ARRIVAL  -20%", fill=(40, 40, 40))
    return image


def pattern(kind: str, rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    a, b = _colour(rng), _colour(rng)
    if kind == "linear_gradient":
        angle = rng.random() * math.pi
        t = (x * math.cos(angle) + y * math.sin(angle)) / (width + height)
    elif kind == "radial_gradient":
        t = np.hypot(x - width / 2, y - height / 2) / (0.7 * max(width, height))
    elif kind == "stripes":
        t = (np.sin(x / (4 + 20 * rng.random())) > 0).astype(np.float64)
    elif kind == "checkerboard":
        cell = int(8 + 40 * rng.random())
        t = ((x // cell + y // cell) % 2).astype(np.float64)
    elif kind == "flat":
        t = np.zeros_like(x)
    elif kind == "noise":
        return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    else:  # blurred noise: cloud-like texture
        noise = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
        return noise.filter(ImageFilter.GaussianBlur(3 + 10 * rng.random()))
    t = np.clip(t, 0.0, 1.0)[..., None]
    return Image.fromarray((np.array(a) * (1 - t) + np.array(b) * t).astype(np.uint8))


PATTERNS = ("linear_gradient", "radial_gradient", "stripes", "checkerboard", "flat", "noise", "blurred_noise")


def generated(count: int, seed: int = 0) -> Iterator[NamedImage]:
    """``count`` pictures: two product shots for every pattern, sizes from thumbnails to 1024 x 768."""
    rng = np.random.default_rng(seed)
    sizes = [(1024, 768), (800, 600), (640, 640), (300, 400), (224, 224), (96, 64)]
    for index in range(count):
        size = sizes[index % len(sizes)]
        if index % 3 < 2:
            yield NamedImage(f"generated/product[{index}]", product_shot(rng, size))
        else:
            kind = PATTERNS[(index // 3) % len(PATTERNS)]
            yield NamedImage(f"generated/{kind}[{index}]", pattern(kind, rng, size))


def benign_set(generated_count: int = 150) -> list[NamedImage]:
    return [*skimage_samples(), *sklearn_samples(), *generated(generated_count)]


def _percentiles(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms (n={len(ordered)})"


def main() -> None:
    import resource

    from pipelines.moderation.images.nsfw import NsfwConfig, NsfwScreener

    parser = argparse.ArgumentParser(description="flag rate and latency of the NSFW screen on benign images")
    parser.add_argument("--generated", type=int, default=150, help="generated pictures besides the library samples")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated pictures")
    args = parser.parse_args()
    screener = NsfwScreener(NsfwConfig())  # the service's defaults: one thread, one image per run, default policy
    images = [*skimage_samples(), *sklearn_samples(), *generated(args.generated, args.seed)]
    screener.classify([images[0].image])  # warm-up
    latencies, flagged = [], []
    for item in images:
        started = time.perf_counter()
        (scores,) = screener.classify([item.image])
        latencies.append(time.perf_counter() - started)
        if screener.flagged(scores):
            flagged.append((item.name, screener.flagged(scores)))
    print(f"images: {len(images)}  flagged: {len(flagged)} ({len(flagged) / len(images):.1%})")
    for name, hits in flagged:
        print(f"  {name}: {hits}")
    print(f"one image at a time (decode excluded, preprocessing included): {_percentiles(latencies)}")
    rng = np.random.default_rng(args.seed)
    shots = [product_shot(rng, (1024, 768)) for _ in range(8)]
    one_each = []
    for index in range(48):
        started = time.perf_counter()
        screener.classify([shots[index % len(shots)]])
        one_each.append(time.perf_counter() - started)
    print(f"1024 x 768 product shots, one at a time: {_percentiles(one_each)}")
    started = time.perf_counter()
    for _ in range(3):
        screener.classifier.predict(shots, batch_size=len(shots))
    batched = (time.perf_counter() - started) / (3 * len(shots))
    print(f"1024 x 768, all {len(shots)} in one run: {batched * 1000:.1f} ms/image")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
