"""The GPU benchmark is built and tested here on the CPU with a small config (no GPU is lent)."""

from __future__ import annotations

import json
from pathlib import Path

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


def test_gpu_benchmark_runs_end_to_end_on_a_small_config(tmp_path: Path) -> None:
    report = main(["--small", "--work-dir", str(tmp_path)])
    assert "| 1 | 1 |" in report and "| 4 | 4 |" in report
    assert "baseline, plain model.generate" in report and "of the bandwidth limit" in report
    assert (tmp_path / "checkpoint" / "config.json").exists()
