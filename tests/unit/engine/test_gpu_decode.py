"""The CUDA path: decode-step graphs, flash-attn over the slot cache, one sync per step (GPU only)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from bench.probes import HostSyncCounter
from pipelines.core.types import GenerationRequest, GenerationResult, ImagePart, Message, SamplingParams, TextPart
from pipelines.engine import SchedulerConfig, generate_all
from pipelines.engine.continuous import ContinuousEngine
from pipelines.engine.vlm import EngineConfig, VLMEngine

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def requests(n: int, max_tokens: int = 12) -> list[GenerationRequest]:
    out = []
    for i in range(n):
        parts: list = [ImagePart(Image.new("RGB", (64, 48), (40 * i % 255, 90, 10)), "image/png", 0)] if i % 2 else []
        parts.append(TextPart(f"describe item {i} for the shop page"))
        out.append(GenerationRequest(f"g{i}", [Message("user", parts)], SamplingParams(max_tokens=max_tokens)))
    return out


def vlm(tiny_model_dir: Path, dtype: str = "float32", attention: str = "sdpa") -> VLMEngine:
    config = EngineConfig(
        model=str(tiny_model_dir),
        dtype=dtype,
        device="cuda",
        attn_implementation=attention,  # type: ignore[arg-type]
        local_files_only=True,
        warmup=False,
    )
    return VLMEngine(config)


def texts(results: list) -> list[str]:
    assert all(isinstance(r, GenerationResult) for r in results), results
    return [r.text for r in results]


def test_graph_replay_gives_the_eager_tokens_and_generate_agrees(tiny_model_dir: Path) -> None:
    engine = vlm(tiny_model_dir)
    batch = requests(6)
    graphs = ContinuousEngine(engine, 8, scheduler=SchedulerConfig(cuda_graphs=True), warmup=False)
    eager = ContinuousEngine(engine, 8, scheduler=SchedulerConfig(cuda_graphs=False), warmup=False)
    try:
        stats = graphs.stats()
        assert stats.cuda_graphs > 0 and stats.graph_error is None
        with_graphs, without = texts(generate_all(graphs, batch)), texts(generate_all(eager, batch))
    finally:
        graphs.close()
        eager.close()
    assert with_graphs == without
    assert with_graphs == texts([engine.generate_batch([r])[0] for r in batch])


def test_a_graph_decode_step_has_one_sync_and_no_implicit_one(tiny_model_dir: Path) -> None:
    engine = vlm(tiny_model_dir)
    cont = ContinuousEngine(engine, 8, start=False, warmup=False)
    pending = cont.step([(r, lambda e: None) for r in requests(5, max_tokens=40)])
    cont.step(pending)
    torch.cuda.set_sync_debug_mode("error")  # any implicit device sync raises
    try:
        with HostSyncCounter("cuda") as syncs:
            cont.step([])
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert syncs.count == 1, syncs.by_call


def test_flash_attention_decode_over_slots_matches_sdpa(tiny_model_dir: Path) -> None:
    pytest.importorskip("flash_attn", reason="flash-attn is in the `gpu` extra")
    batch = requests(4)
    results = {}
    for attention in ("flash_attention_2", "sdpa"):
        cont = ContinuousEngine(vlm(tiny_model_dir, "bfloat16", attention), 4, warmup=False)
        try:
            assert cont.stats().attention == ("flash" if attention != "sdpa" else "sdpa")
            results[attention] = texts(generate_all(cont, batch))
        finally:
            cont.close()
    # bf16 kernels round differently; the tiny model's greedy path agrees on the first tokens
    assert [t[:4] for t in results["flash_attention_2"]] == [t[:4] for t in results["sdpa"]]
