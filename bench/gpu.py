"""GPU benchmark: the real Qwen3-VL-8B architecture with random weights, continuously batched.

No weights can be downloaded where this project is built, so the benchmark builds a checkpoint of
the published architecture (``configs/qwen3-vl-8b-architecture.json``, 8.77B parameters) with
random weights, saves it with ``save_pretrained`` and loads it through the service's own loader
(``pipelines.engine.vlm``): the compute per token is the real model's. Per quantisation it prints time
to first token and output tokens/s at each concurrency, the peak GPU memory, plain
``model.generate`` one request at a time as the baseline, and the decode rate at concurrency 1 as
a fraction of the memory-bandwidth limit (weight bytes / measured device copy bandwidth).

Run on a GPU machine:   ``python -m bench.gpu --work-dir /data/qvs-bench``
CPU smoke test (tiny):  ``python -m bench.gpu --small`` (what tests/unit/test_bench_gpu.py runs)
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import torch
from PIL import Image
from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

from devtools.tiny_model import TinyModelSpec, build_config, build_processor, train_tokenizer
from pipelines.core.types import GenerationRequest, GenerationResult, ImagePart, Message, SamplingParams, TextPart
from pipelines.engine.continuous import ContinuousEngine, StreamEvent
from pipelines.engine.vlm import EngineConfig, Quantization, VLMEngine

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "configs" / "qwen3-vl-8b-architecture.json"
PROMPT = "Describe this product photo for a shop page."
COPY_BYTES = 1 << 30


@dataclass
class LevelResult:
    concurrency: int
    requests: int
    ttft_p50_s: float
    ttft_p99_s: float
    output_tokens_per_s: float
    wall_s: float


def build_random_checkpoint(out: Path, architecture: Path | None, device: str, dtype: torch.dtype) -> Path:
    """The architecture with random weights, plus a locally trained tokenizer and the processor."""
    if (out / "config.json").exists():
        return out
    spec = TinyModelSpec(max_pixels=1024 * 1024) if architecture else TinyModelSpec()
    tokenizer = train_tokenizer(spec.vocab_size)
    config = build_config(spec, tokenizer)
    if architecture is not None:
        published = json.loads(architecture.read_text())
        published.pop("_comment", None)
        special = {k: getattr(config, k) for k in ("image_token_id", "video_token_id")}
        special |= {k: getattr(config, k) for k in ("vision_start_token_id", "vision_end_token_id")}
        config = Qwen3VLConfig(**published, **special)
        config.text_config.pad_token_id = tokenizer.pad_token_id
        config.text_config.eos_token_id = tokenizer.eos_token_id
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):  # initialise where it will run: an 8B model in fp32 on CPU is slow
            model = Qwen3VLForConditionalGeneration(config).eval()
    finally:
        torch.set_default_dtype(previous)
    model.generation_config.eos_token_id = [tokenizer.eos_token_id]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    build_processor(spec, tokenizer).save_pretrained(out)
    del model
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return out


def make_requests(n: int, image_size: int, max_tokens: int, tag: str) -> list[GenerationRequest]:
    image = Image.new("RGB", (image_size, image_size), (180, 120, 60))
    return [
        GenerationRequest(
            f"{tag}-{i}",
            [Message("user", [ImagePart(image, "image/png", 0), TextPart(f"{PROMPT} ({i})")])],
            SamplingParams(max_tokens=max_tokens),
        )
        for i in range(n)
    ]


def run_level(engine: ContinuousEngine, concurrency: int, total: int, image_size: int, max_tokens: int) -> LevelResult:
    """``concurrency`` closed-loop clients submitting ``total`` requests to the continuous engine."""
    requests = make_requests(total, image_size, max_tokens, f"c{concurrency}")
    results: list[GenerationResult] = []
    lock = threading.Lock()
    done = threading.Semaphore(0)
    next_index = 0

    def submit_next() -> None:
        nonlocal next_index
        with lock:
            if next_index >= len(requests):
                return
            request = requests[next_index]
            next_index += 1
        engine.submit(request, on_event)

    def on_event(event: StreamEvent) -> None:
        if event.result is None:
            return
        if not isinstance(event.result, GenerationResult):
            raise RuntimeError(f"request failed: {event.result}")
        with lock:
            results.append(event.result)
        done.release()
        submit_next()

    started = time.perf_counter()
    for _ in range(min(concurrency, total)):
        submit_next()
    for _ in range(total):
        done.acquire()
    wall = time.perf_counter() - started
    ttfts = sorted(r.first_token_s or 0.0 for r in results)
    tokens = sum(r.completion_tokens for r in results)
    return LevelResult(
        concurrency=concurrency,
        requests=total,
        ttft_p50_s=statistics.median(ttfts),
        ttft_p99_s=ttfts[min(len(ttfts) - 1, round(0.99 * (len(ttfts) - 1)))],
        output_tokens_per_s=tokens / wall,
        wall_s=wall,
    )


def baseline(engine: VLMEngine, runs: int, image_size: int, max_tokens: int) -> tuple[float, float]:
    """Plain ``model.generate`` (the engine's per-batch path) one request at a time: tokens/s, s/request."""
    tokens = 0
    started = time.perf_counter()
    for request in make_requests(runs, image_size, max_tokens, "baseline"):
        result = engine.generate_batch([request])[0]
        assert isinstance(result, GenerationResult), result
        tokens += result.completion_tokens
    wall = time.perf_counter() - started
    return tokens / wall, wall / runs


def copy_bandwidth(device: torch.device) -> float:
    """Bytes/s of a device-to-device copy (read + write), the decode roofline's denominator."""
    size = COPY_BYTES if device.type == "cuda" else COPY_BYTES // 16
    src = torch.empty(size, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    _sync(device)
    started = time.perf_counter()
    reps = 10
    for _ in range(reps):
        dst.copy_(src)
    _sync(device)
    return 2 * size * reps / (time.perf_counter() - started)


def weight_bytes(model: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters()) + sum(
        b.numel() * b.element_size() for b in model.buffers()
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", type=Path, help="where the random checkpoint is written (~18 GB for 8B)")
    parser.add_argument("--small", action="store_true", help="tiny architecture on CPU: a smoke test of this script")
    parser.add_argument("--quantization", nargs="+", default=["none", "4bit"], choices=["none", "8bit", "4bit"])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--image-size", type=int, default=448)
    parser.add_argument("--rounds", type=int, default=2, help="requests per level = rounds x concurrency")
    parser.add_argument("--baseline-runs", type=int, default=4)
    args = parser.parse_args(argv)
    if args.small:
        args.quantization, args.concurrency, args.max_tokens = ["none"], [1, 4], 8
        args.image_size, args.rounds, args.baseline_runs = 64, 1, 2
    device = "cuda" if torch.cuda.is_available() and not args.small else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="qvs-gpu-bench-"))
    checkpoint = build_random_checkpoint(work / "checkpoint", None if args.small else ARCHITECTURE, device, dtype)

    lines = [
        f"# bench.gpu {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"machine: {platform.node()} {platform.machine()}, "
        + (torch.cuda.get_device_name(0) if device == "cuda" else f"CPU ({torch.get_num_threads()} threads)"),
        f"architecture: {'tiny (smoke test)' if args.small else ARCHITECTURE.name}, random weights, {dtype}",
        f"workload: {args.image_size}x{args.image_size} image + text, {args.max_tokens} output tokens, greedy",
        "",
    ]
    for quantization in args.quantization:
        lines += bench_quantization(checkpoint, quantization, device, args)
    report = "\n".join(lines)
    print(report)
    return report


def bench_quantization(
    checkpoint: Path, quantization: Quantization, device: str, args: argparse.Namespace
) -> list[str]:
    if quantization != "none" and device != "cuda":
        return [f"## {quantization}: skipped (bitsandbytes needs a CUDA GPU)", ""]
    config = EngineConfig(
        model=str(checkpoint),
        dtype="bfloat16" if device == "cuda" else "float32",
        device=device,
        quantization=quantization,
        local_files_only=True,
    )
    engine = VLMEngine(config)
    torch_device = torch.device(device)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    continuous = ContinuousEngine(engine, max_running=max(args.concurrency))
    try:
        levels = [run_level(continuous, c, c * args.rounds, args.image_size, args.max_tokens) for c in args.concurrency]
    finally:
        continuous.close()
    peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan")
    base_rate, base_latency = baseline(engine, args.baseline_runs, args.image_size, args.max_tokens)
    bandwidth = copy_bandwidth(torch_device)
    weights = weight_bytes(engine.model)
    limit = bandwidth / weights  # decode steps/s if every step only streamed the weights once
    c1 = next((lv for lv in levels if lv.concurrency == 1), None)
    decode_rate = None
    if c1 is not None:
        per_request_s = c1.wall_s / c1.requests
        decode_rate = (args.max_tokens - 1) / max(per_request_s - c1.ttft_p50_s, 1e-9)
    out = [
        f"## quantization {quantization}",
        f"weights {weights / 2**30:.2f} GiB; peak GPU memory {peak:.2f} GiB; copy bandwidth {bandwidth / 1e9:.0f} GB/s",
        "",
        "| concurrency | requests | TTFT p50 ms | TTFT p99 ms | output tok/s |",
        "|---|---|---|---|---|",
    ]
    out += [
        f"| {lv.concurrency} | {lv.requests} | {lv.ttft_p50_s * 1000:.1f} | {lv.ttft_p99_s * 1000:.1f} | "
        f"{lv.output_tokens_per_s:.1f} |"
        for lv in levels
    ]
    out += [
        "",
        f"baseline, plain model.generate one request at a time: {base_rate:.1f} output tok/s "
        f"({base_latency * 1000:.0f} ms per request)",
    ]
    if decode_rate is not None:
        out.append(
            f"decode at concurrency 1: {decode_rate:.1f} tok/s = {decode_rate / limit:.0%} of the bandwidth limit "
            f"({limit:.1f} tok/s = {bandwidth / 1e9:.0f} GB/s / {weights / 1e9:.2f} GB)"
        )
    del engine
    if device == "cuda":
        torch.cuda.empty_cache()
    return [*out, ""]


if __name__ == "__main__":
    main()
