"""The engine tests' tiny-checkpoint engine (test_engine.py has its own, warmed up)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.engine.vlm import EngineConfig, VLMEngine


@pytest.fixture(scope="module")
def engine(tiny_model_dir: Path) -> VLMEngine:
    return VLMEngine(
        EngineConfig(model=str(tiny_model_dir), dtype="float32", device="cpu", local_files_only=True, warmup=False)
    )
