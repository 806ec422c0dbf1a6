"""GPU benchmark: the Qwen3-VL-8B architecture with random weights on the continuous engine.

The model is built straight in GPU memory in bfloat16 from ``configs/qwen3-vl-8b-architecture.json``
(8.77B parameters; random weights cost the same per token as real ones; nothing is written to
disk) and served by the same ``ContinuousEngine`` as the service (CUDA graphs, flash-attn when
installed). Printed, as a markdown report and, with ``--json``, one JSON line last:

- ms per decode step at batch 1/8/32/64 (the engine's step period while the batch is full), next
  to the bandwidth floor measured on the same device (weights + KV read once per step at the
  speed of a large device-to-device copy);
- TTFT and TPOT p50/p99 at concurrency 1/8/32/64, closed-loop clients, a distinct image per
  request and exactly 128 output tokens (end-of-sequence disabled), output tokens/s, and peak
  GPU memory;
- ``transformers``' ``generate`` on the same requests (one batch per level) as the reference,
  with the engine's throughput as a ratio of it.

``python -m bench.engine --gpu [--quick]`` (``--quick``: one round per level, fits in 6 minutes on
an H200); ``python -m bench.gpu --small`` runs the whole script on the CPU with the tiny
architecture (what ``tests/unit/bench/test_bench_gpu.py`` does).
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import torch
from PIL import Image

from bench.random_model import ARCHITECTURE, GPU_MAX_PIXELS, random_engine, random_prompt
from devtools.tiny_model import TinyModelSpec
from pipelines.core.types import GenerationRequest, GenerationResult, ImagePart, Message, SamplingParams, TextPart
from pipelines.engine import PreparedRequest, SchedulerConfig, StreamEvent
from pipelines.engine.continuous import ContinuousEngine
from pipelines.engine.vlm import VLMEngine

__all__ = ["ARCHITECTURE", "main"]

PROMPT = "Describe this product photo for a shop page."
COPY_BYTES = 1 << 30
STEP_PROMPT_TOKENS = 256  # the decode-step measurement's text prompts
STEP_WARMUP = 8  # full-batch steps skipped before timing


@dataclass
class Level:
    concurrency: int
    requests: int
    ttft_p50_ms: float
    ttft_p99_ms: float
    tpot_p50_ms: float
    tpot_p99_ms: float
    output_tokens_per_s: float
    hf_generate_tokens_per_s: float | None = None

    @property
    def over_hf(self) -> float | None:
        return self.output_tokens_per_s / self.hf_generate_tokens_per_s if self.hf_generate_tokens_per_s else None


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def image_request(index: int, side: int, max_tokens: int, tag: str) -> GenerationRequest:
    """A distinct random image per request (no two prompts share pixels), then the question."""
    pixels = np.random.default_rng(index).integers(0, 256, (side, side, 3), dtype=np.uint8)
    parts = [ImagePart(Image.fromarray(pixels), "image/png", 0), TextPart(f"{PROMPT} ({index})")]
    return GenerationRequest(f"{tag}-{index}", [Message("user", parts)], SamplingParams(max_tokens=max_tokens))


def decode_step_ms(cont: ContinuousEngine, batch: int, steps: int) -> float:
    """Median period of the engine's steps while exactly ``batch`` sequences decode (prefill over)."""
    stamps: list[tuple[float, int]] = []
    cont.on_step = lambda size: stamps.append((time.perf_counter(), size))
    done = threading.Semaphore(0)

    def sink(event: StreamEvent) -> None:
        if event.result is not None:
            done.release()

    # long enough that all `batch` sequences decode together for the warm-up and timed steps,
    # however many steps their prefills are spread over
    admitting = batch * STEP_PROMPT_TOKENS // cont.scheduler.prefill_chunk_tokens + 1
    budget = STEP_WARMUP + steps + admitting + 4
    for i in range(batch):
        request = GenerationRequest(f"step{batch}-{i}", [Message("user", [TextPart("")])], SamplingParams(budget))
        cont.submit(PreparedRequest(request, random_prompt(cont.engine, STEP_PROMPT_TOKENS, seed=i)), sink)
    for _ in range(batch):
        done.acquire()
    cont.on_step = None
    full = [t for t, size in stamps if size == batch][STEP_WARMUP:]
    periods = [b - a for a, b in itertools.pairwise(full)]
    return statistics.median(periods) * 1e3


def run_level(cont: ContinuousEngine, concurrency: int, total: int, side: int, max_tokens: int) -> Level:
    """``concurrency`` closed-loop clients submitting ``total`` requests (encoded on the engine's
    admission threads, as in the service)."""
    requests = [image_request(i, side, max_tokens, f"c{concurrency}") for i in range(total)]
    results: list[GenerationResult] = []
    lock = threading.Lock()
    finished = threading.Semaphore(0)
    cursor = iter(requests)

    def submit_next() -> None:
        with lock:
            request = next(cursor, None)
        if request is not None:
            cont.submit(request, on_event)

    def on_event(event: StreamEvent) -> None:
        if event.result is None:
            return
        if not isinstance(event.result, GenerationResult):
            raise RuntimeError(f"request failed: {event.result!r}")
        with lock:
            results.append(event.result)
        finished.release()
        submit_next()

    started = time.perf_counter()
    for _ in range(min(concurrency, total)):
        submit_next()
    for _ in range(total):
        finished.acquire()
    wall = time.perf_counter() - started
    assert all(r.completion_tokens == max_tokens for r in results), "every request must produce max_tokens"
    ttft = [(r.first_token_s or 0.0) * 1e3 for r in results]
    tpot = [(r.decode_s or 0.0) * 1e3 / max(r.completion_tokens - 1, 1) for r in results]
    return Level(
        concurrency=concurrency,
        requests=total,
        ttft_p50_ms=statistics.median(ttft),
        ttft_p99_ms=_percentile(ttft, 0.99),
        tpot_p50_ms=statistics.median(tpot),
        tpot_p99_ms=_percentile(tpot, 0.99),
        output_tokens_per_s=sum(r.completion_tokens for r in results) / wall,
    )


def hf_generate_rate(engine: VLMEngine, concurrency: int, side: int, max_tokens: int) -> float:
    """``transformers``' ``generate`` on one batch of ``concurrency`` such requests: output tokens/s."""
    requests = [image_request(10_000 + i, side, max_tokens, "hf") for i in range(concurrency)]
    _sync()
    started = time.perf_counter()
    results = engine.generate_batch(requests)
    _sync()
    wall = time.perf_counter() - started
    assert all(isinstance(r, GenerationResult) and r.completion_tokens == max_tokens for r in results), results
    return concurrency * max_tokens / wall


def copy_bandwidth(device: torch.device) -> float:
    """Bytes/s of a device-to-device copy (read + write): the decode roofline's denominator."""
    size = COPY_BYTES if device.type == "cuda" else COPY_BYTES // 16
    src = torch.empty(size, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    _sync()
    reps = 10
    started = time.perf_counter()
    for _ in range(reps):
        dst.copy_(src)
    _sync()
    return 2 * size * reps / (time.perf_counter() - started)


def weight_bytes(model: torch.nn.Module) -> int:
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="tiny architecture on the CPU: a smoke test")
    parser.add_argument("--quick", action="store_true", help="one round per level (fits in 6 minutes on an H200)")
    parser.add_argument("--json", action="store_true", help="also print the numbers as one JSON line, last")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 64], help="decode-step batch sizes")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--image-size", type=int, default=448)
    parser.add_argument("--rounds", type=int, default=3, help="requests per level = rounds x concurrency")
    parser.add_argument("--step-samples", type=int, default=64, help="timed decode steps per batch size")
    parser.add_argument("--context", type=int, default=1024, help="KV-cache slot length")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.step_samples = 1, 32
    if args.small:
        args.concurrency, args.batches, args.max_tokens = [1, 4], [1, 4], 8
        args.image_size, args.rounds, args.step_samples, args.context = 64, 1, 8, 512
    return args


def main(argv: list[str] | None = None) -> str:
    args = parse(argv)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.small else "cpu")
    dtype = "bfloat16" if device.type == "cuda" else "float32"
    started = time.perf_counter()
    engine = random_engine(
        spec=TinyModelSpec() if args.small else TinyModelSpec(max_pixels=GPU_MAX_PIXELS),
        architecture=None if args.small else ARCHITECTURE,
        device=device.type,
        dtype=dtype,
        scheduler=SchedulerConfig(max_context_tokens=args.context),
    )
    built_s = time.perf_counter() - started
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    cont = ContinuousEngine(engine, max(*args.concurrency, *args.batches), warmup=True)
    ready_s = time.perf_counter() - started
    try:
        steps = {b: decode_step_ms(cont, b, args.step_samples) for b in args.batches}
        levels = [
            run_level(cont, c, c * args.rounds if c > 1 else max(args.rounds, 4), args.image_size, args.max_tokens)
            for c in args.concurrency
        ]
        stats = cont.stats()
    finally:
        cont.close()
    peak_gib = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    for level in levels:
        level.hf_generate_tokens_per_s = hf_generate_rate(engine, level.concurrency, args.image_size, args.max_tokens)
    bandwidth = copy_bandwidth(device)
    weights = weight_bytes(engine.model)
    kv_token = stats.kv_cache_bytes / (stats.slots * stats.max_context_tokens)
    context = STEP_PROMPT_TOKENS + STEP_WARMUP + args.step_samples // 2
    floor = {b: (weights + b * context * kv_token) / bandwidth * 1e3 for b in args.batches}
    numbers: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else f"CPU ({platform.machine()})",
        "architecture": "tiny (smoke test)" if args.small else ARCHITECTURE.name,
        "dtype": dtype,
        "attention": stats.attention,
        "cuda_graphs": stats.cuda_graphs,
        "graph_error": stats.graph_error,
        "build_s": built_s,
        "engine_ready_s": ready_s,
        "weights_gb": weights / 1e9,
        "copy_bandwidth_gb_s": bandwidth / 1e9,
        "decode_step_ms": steps,
        "floor_step_ms": floor,
        "floor_over_step": {b: floor[b] / steps[b] for b in args.batches},
        "peak_gpu_gib": peak_gib,
        "levels": [asdict(level) | {"over_hf_generate": level.over_hf} for level in levels],
        "max_tokens": args.max_tokens,
        "image_size": args.image_size,
    }
    report = render(numbers)
    print(report)
    if args.json:
        print(json.dumps(numbers))
    return report


def render(n: dict[str, Any]) -> str:
    lines = [
        f"# bench.gpu {n['date']}",
        f"device: {n['device']}; {n['architecture']}, random weights, {n['dtype']}, attention {n['attention']}, "
        f"{n['cuda_graphs']} CUDA graphs" + (f" (capture failed: {n['graph_error']})" if n["graph_error"] else ""),
        f"weights {n['weights_gb']:.2f} GB; copy bandwidth {n['copy_bandwidth_gb_s']:.0f} GB/s; "
        f"peak GPU memory {n['peak_gpu_gib']:.2f} GiB; model built in {n['build_s']:.1f} s, engine ready "
        f"(graphs + warm-up) in {n['engine_ready_s']:.1f} s",
        "",
        "| batch | decode step ms | bandwidth floor ms | floor / step |",
        "|---|---|---|---|",
    ]
    for b, ms in n["decode_step_ms"].items():
        lines.append(f"| {b} | {ms:.2f} | {n['floor_step_ms'][b]:.2f} | {n['floor_over_step'][b]:.0%} |")
    lines += [
        "",
        f"{n['image_size']}x{n['image_size']} distinct image + text per request, exactly {n['max_tokens']} output "
        "tokens, greedy; HF generate = one `model.generate` batch of the same requests",
        "",
        "| concurrency | requests | TTFT p50 ms | TTFT p99 ms | TPOT p50 ms | TPOT p99 ms | output tok/s "
        "| HF generate tok/s | engine / HF |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for lv in n["levels"]:
        lines.append(
            f"| {lv['concurrency']} | {lv['requests']} | {lv['ttft_p50_ms']:.1f} | {lv['ttft_p99_ms']:.1f} | "
            f"{lv['tpot_p50_ms']:.2f} | {lv['tpot_p99_ms']:.2f} | {lv['output_tokens_per_s']:.1f} | "
            f"{lv['hf_generate_tokens_per_s']:.1f} | {lv['over_hf_generate']:.2f}x |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
