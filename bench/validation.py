"""Validation throughput vs. Pillow's bare decode of the same files.

Run: ``.venv/bin/python -m bench.validation [--runs 20]``. Builds a ~1 MB JPEG and a ~4 MB PNG
from random noise (incompressible, so the sizes are real), then times, per image:
the full validator path (data URL parse + strict Base64 + sniffing + header checks + decode +
EXIF + RGB conversion + resize to the model budget) against ``Image.open(...).load()``.
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import time
from collections.abc import Callable

import numpy as np
from PIL import Image

from pipelines.inputs.validation import ValidationLimits, validate_chat_request


def noise_image(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def sized_file(fmt: str, target_bytes: int) -> bytes:
    """Grow a noise image until its encoding reaches ``target_bytes``."""
    side = 256
    while True:
        buf = io.BytesIO()
        noise_image(side, side, seed=side).save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        if buf.tell() >= target_bytes:
            return buf.getvalue()
        side = int(side * 1.1) + 8


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    limits = ValidationLimits()
    print("| file | size MB | pixels | validator ms | validator MB/s | Pillow decode ms | Pillow MB/s | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for name, fmt, mime, target in [("JPEG", "JPEG", "image/jpeg", 1_000_000), ("PNG", "PNG", "image/png", 4_000_000)]:
        data = sized_file(fmt, target)
        url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
        messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]
        validate_ms = median_ms(lambda m=messages: validate_chat_request(m, {}, limits, "bench"), args.runs)
        pillow_ms = median_ms(lambda d=data: Image.open(io.BytesIO(d)).load(), args.runs)
        mb = len(data) / 1e6
        pixels = Image.open(io.BytesIO(data)).size
        print(
            f"| {name} | {mb:.2f} | {pixels[0]}x{pixels[1]} | {validate_ms:.1f} | {mb / validate_ms * 1000:.1f} "
            f"| {pillow_ms:.1f} | {mb / pillow_ms * 1000:.1f} | {validate_ms / pillow_ms:.2f} |"
        )


if __name__ == "__main__":
    main()
