"""CPU benchmark on the tiny checkpoint: the full Serve graph vs. a direct engine call.

Run: ``make bench`` or ``.venv/bin/python -m bench.cpu_graph [--concurrency 1 4 16 64] [--max-tokens 64]``.
Prints cold start to ready; per concurrency, requests/s and p50/p99 latency through the full graph
and through an empty graph with the same Serve hops served beside it (``bench.empty_graph``, the
framework's floor); the direct in-process engine latency; the decode-step batch sizes; and the
first-content delay of streamed requests with and without the screening hold-back.
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
import yaml

from devtools.service import ROOT, TINY_MODEL_DIR, Service, free_port, png_bytes, write_config
from devtools.tiny_model import build_tiny_checkpoint, is_tiny_checkpoint
from pipelines.core.types import GenerationRequest, ImagePart, Message, SamplingParams, TextPart
from pipelines.engine.vlm import EngineConfig, VLMEngine

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


def chat_body(max_tokens: int, stream: bool = False) -> dict:
    image = "data:image/png;base64," + base64.b64encode(png_bytes((128, 96))).decode()
    return {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": image}}, {"type": "text", "text": PROMPT}],
            }
        ],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": stream,
    }


async def load(base_url: str, path: str, concurrency: int, total: int, max_tokens: int) -> tuple[list[float], float]:
    """``total`` requests from ``concurrency`` closed-loop clients; latencies and wall time."""
    body = chat_body(max_tokens)
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            queue.get_nowait()
            started = time.perf_counter()
            response = await client.post(path, json=body)
            response.raise_for_status()
            latencies.append(time.perf_counter() - started)

    limits = httpx.Limits(max_connections=concurrency + 4)
    async with httpx.AsyncClient(base_url=base_url, timeout=600, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, elapsed


async def first_content(base_url: str, runs: int, max_tokens: int) -> list[float]:
    """Seconds from sending a streamed request to its first content delta, one at a time."""
    out = []
    async with httpx.AsyncClient(base_url=base_url, timeout=600) as client:
        for _ in range(runs):
            started = time.perf_counter()
            async with client.stream("POST", "/v1/chat/completions", json=chat_body(max_tokens, True)) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: {") and '"content":"' in line and '"content":""' not in line:
                        out.append(time.perf_counter() - started)
                        break
    return out


def bench_config(work: Path, port: int, hold_back: int | None = None) -> Path:
    """cpu.yaml with the empty graph as a second application on the same cluster and port."""
    overrides = {"Ingress": {"stream_hold_back_chars": hold_back}} if hold_back is not None else {}
    path = write_config(
        ROOT / "configs" / "cpu.yaml",
        work / "serve.yaml",
        port,
        overrides,
        # the response cache would answer the repeated benchmark request from memory: measure the model path
        args={
            "audit": {"url": f"sqlite:///{work / 'audit.db'}", "journal_dir": str(work / "audit-journal")},
            "cache": {"enabled": False},
        },
    )
    config = yaml.safe_load(path.read_text())
    if not any(a["name"] == "empty" for a in config["applications"]):
        config["applications"].append(
            {
                "name": "empty",
                "route_prefix": "/empty",
                "import_path": "bench.empty_graph:build_app",
                "deployments": [
                    {"name": name, "ray_actor_options": {"num_cpus": 0.05}, "max_ongoing_requests": 256}
                    for name in ("EmptyIngress", "EmptyValidator", "EmptyPolicy", "EmptyVLM")
                ],
            }
        )
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def step_sizes(service: Service) -> Counter:
    stats = service.call_deployment("VLM", "engine_stats")
    return Counter({int(k): v for k, v in stats["step_sizes"].items()})  # type: ignore[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--requests", type=int, default=48, help="requests per concurrency level (at least 3x it)")
    parser.add_argument("--stream-runs", type=int, default=20, help="streamed requests for the first-content delay")
    args = parser.parse_args()
    if not is_tiny_checkpoint(TINY_MODEL_DIR):
        build_tiny_checkpoint(TINY_MODEL_DIR)

    direct = direct_engine_latencies(args.max_tokens, runs=20)
    work = Path(tempfile.mkdtemp(prefix="qvs-bench-"))
    port = free_port()
    config = bench_config(work, port)
    service = Service(config, port, work / "serve.log")
    service.start()
    rows = []
    ttfc: dict[int, list[float]] = {}
    try:
        for path in ("/v1/chat/completions", "/empty/v1/chat/completions"):  # warm both graphs
            asyncio.run(load(service.base_url, path, 4, 8, args.max_tokens))
        for c in args.concurrency:
            total = max(args.requests, c * 3)
            before = step_sizes(service)
            lat, elapsed = asyncio.run(load(service.base_url, "/v1/chat/completions", c, total, args.max_tokens))
            steps = step_sizes(service) - before
            empty, empty_elapsed = asyncio.run(load(service.base_url, "/empty/v1/chat/completions", c, total, 0))
            rows.append((c, total, lat, elapsed, empty, empty_elapsed, steps))
        default_hold_back = yaml.safe_load(config.read_text())["applications"][0]["deployments"][0]["user_config"]
        for hold_back in (0, default_hold_back.get("stream_hold_back_chars", 48)):
            service.deploy(bench_config(work, port, hold_back))
            time.sleep(3)  # user_config reaches the ingress asynchronously
            ttfc[hold_back] = asyncio.run(first_content(service.base_url, args.stream_runs, args.max_tokens))
    finally:
        service.stop()

    direct_p50 = statistics.median(direct)
    print(f"\ncold start to ready: {service.cold_start_s:.1f} s   max_tokens={args.max_tokens}, 128x96 PNG + text")
    print(f"direct engine call (same process, one request): p50 {direct_p50 * 1000:.1f} ms")
    header = ["concurrency", "requests", "full req/s", "full p50 ms", "full p99 ms"]
    header += ["empty req/s", "empty p50 ms", "empty p99 ms"]
    print("\n| " + " | ".join(header) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for c, total, lat, elapsed, empty, empty_elapsed, _ in rows:
        print(
            f"| {c} | {total} | {total / elapsed:.2f} | {percentile(lat, 0.5) * 1000:.1f} | "
            f"{percentile(lat, 0.99) * 1000:.1f} | {total / empty_elapsed:.1f} | "
            f"{percentile(empty, 0.5) * 1000:.1f} | {percentile(empty, 0.99) * 1000:.1f} |"
        )
    print("\ndecode-step batch sizes (sequences per step: steps)")
    for c, *_, steps in rows:
        print(f"  c={c}: " + ", ".join(f"{k}: {v}" for k, v in sorted(steps.items())))
    by_c = {r[0]: r for r in rows}
    if 1 in by_c:
        full_p50 = percentile(by_c[1][2], 0.5)
        empty_p50 = percentile(by_c[1][4], 0.5)
        overhead = full_p50 - direct_p50
        print(
            f"\nc=1: graph overhead {overhead * 1000:.1f} ms (full p50 - direct p50); empty graph p50 "
            f"{empty_p50 * 1000:.1f} ms; overhead / empty = {overhead / empty_p50:.2f}x"
        )
    if 1 in by_c and 16 in by_c:
        rps = {c: by_c[c][1] / by_c[c][3] for c in (1, 16)}
        print(f"throughput c=16 / c=1: {rps[16] / rps[1]:.2f}x")
    for hold_back, values in ttfc.items():
        print(
            f"streamed, hold-back {hold_back} chars: first content p50 {percentile(values, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(values, 0.99) * 1000:.1f} ms ({len(values)} requests, one at a time)"
        )


if __name__ == "__main__":
    main()
