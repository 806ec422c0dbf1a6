"""The GPU benchmark is built and tested here on the CPU with a small config (no GPU is lent)."""

from __future__ import annotations

import json

import torch
from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

from bench.gpu import ARCHITECTURE, main


def test_architecture_file_has_qwen3_vl_8b_size() -> None:
    published = json.loads(ARCHITECTURE.read_text())
    published.pop("_comment")
    with torch.device("meta"):
        model = Qwen3VLForConditionalGeneration(Qwen3VLConfig(**published))
    total = sum(p.numel() for p in model.parameters())
    vision = sum(p.numel() for p in model.model.visual.parameters())
    assert 8.7e9 < total < 8.8e9  # the model card's 8.77B
    assert 0.5e9 < vision < 0.65e9


def test_gpu_benchmark_runs_end_to_end_on_a_small_config(capsys) -> None:
    report = main(["--small", "--json"])
    assert "| 1 | 4 |" in report and "| 4 | 4 |" in report  # concurrency 1 (4 requests) and 4
    assert "bandwidth floor ms" in report and "HF generate tok/s" in report
    numbers = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(numbers["decode_step_ms"]) == {"1", "4"} and all(v > 0 for v in numbers["decode_step_ms"].values())
    for level in numbers["levels"]:
        assert level["ttft_p50_ms"] <= level["ttft_p99_ms"] and level["tpot_p50_ms"] <= level["tpot_p99_ms"]
        assert level["output_tokens_per_s"] > 0 and level["over_hf_generate"] > 0
