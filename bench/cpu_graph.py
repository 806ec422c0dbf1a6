"""CPU benchmark on the tiny checkpoint: the full Serve graph vs. a direct engine call.

Run: ``make bench`` or ``.venv/bin/python -m bench.cpu_graph [--concurrency 1 16] [--max-tokens 16]``.
Prints cold start to ready, per-concurrency requests/s and latency percentiles through the
graph, the direct in-process engine latency for the same request, and the batch sizes seen.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from pipelines.engine import EngineConfig, VLMEngine
from pipelines.tiny_model import build_tiny_checkpoint, is_tiny_checkpoint
from pipelines.types import GenerationRequest, ImagePart, Message, SamplingParams, TextPart
from tests.conftest import TINY_MODEL_DIR, png_bytes
from tests.e2e.service import ROOT, Service, free_port, write_config

PROMPT = "Is this bag real leather?"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def direct_engine_latencies(max_tokens: int, runs: int) -> list[float]:
    import io

    from PIL import Image

    engine = VLMEngine(
        EngineConfig(model=str(TINY_MODEL_DIR), dtype="float32", device="cpu", local_files_only=True, torch_threads=1)
    )
    image = Image.open(io.BytesIO(png_bytes((128, 96)))).convert("RGB")
    request = GenerationRequest(
        "bench",
        [Message("user", [ImagePart(image, "image/png", 0), TextPart(PROMPT)])],
        SamplingParams(max_tokens=max_tokens),
    )
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        engine.generate_batch([request])
        out.append(time.perf_counter() - started)
    return out


async def load(base_url: str, concurrency: int, total: int, max_tokens: int) -> tuple[list[float], float, Counter]:
    image = "data:image/png;base64," + base64.b64encode(png_bytes((128, 96))).decode()
    body = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": image}}, {"type": "text", "text": PROMPT}],
            }
        ],
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    latencies: list[float] = []
    batches: Counter = Counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            queue.get_nowait()
            started = time.perf_counter()
            response = await client.post("/v1/chat/completions", json=body)
            response.raise_for_status()
            latencies.append(time.perf_counter() - started)
            batches[int(response.headers["x-batch-size"])] += 1

    async with httpx.AsyncClient(base_url=base_url, timeout=300) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, elapsed, batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--requests", type=int, default=48, help="requests per concurrency level")
    args = parser.parse_args()
    if not is_tiny_checkpoint(TINY_MODEL_DIR):
        build_tiny_checkpoint(TINY_MODEL_DIR)

    direct = direct_engine_latencies(args.max_tokens, runs=20)
    work = Path(tempfile.mkdtemp(prefix="qvs-bench-"))
    port = free_port()
    service = Service(
        write_config(ROOT / "configs" / "cpu.yaml", work / "serve.yaml", port, {}), port, work / "serve.log"
    )
    service.start()
    try:
        asyncio.run(load(service.base_url, 4, 8, args.max_tokens))  # warm the graph
        rows = []
        for c in args.concurrency:
            total = max(args.requests, c * 3)
            lat, elapsed, batches = asyncio.run(load(service.base_url, c, total, args.max_tokens))
            rows.append((c, total, total / elapsed, percentile(lat, 0.5), percentile(lat, 0.99), batches))
    finally:
        service.stop()

    print(f"\ncold start to ready: {service.cold_start_s:.1f} s   max_tokens={args.max_tokens}, 128x96 PNG")
    print(f"direct engine call (same process, batch of 1): p50 {statistics.median(direct) * 1000:.1f} ms")
    print("| concurrency | requests | req/s | p50 ms | p99 ms | batch sizes (size: responses) |")
    print("|---|---|---|---|---|---|")
    for c, total, rps, p50, p99, batches in rows:
        hist = ", ".join(f"{k}: {v}" for k, v in sorted(batches.items()))
        print(f"| {c} | {total} | {rps:.2f} | {p50 * 1000:.1f} | {p99 * 1000:.1f} | {hist} |")
    c1 = next((r for r in rows if r[0] == 1), None)
    if c1:
        overhead_ms = (c1[3] - statistics.median(direct)) * 1000
        print(f"graph overhead at concurrency 1: {overhead_ms:.1f} ms (p50 graph - p50 direct)")


if __name__ == "__main__":
    main()
