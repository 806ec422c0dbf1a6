"""Fixtures shared by all test kinds: the tiny Qwen3-VL checkpoint and images made in memory."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
TINY_MODEL_DIR = Path(os.environ.get("QVS_TINY_MODEL", ROOT / ".cache" / "tiny-qwen3-vl"))


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """The checkpoint `make tiny-model` builds; built here if a test run starts without it."""
    from devtools.tiny_model import build_tiny_checkpoint, is_tiny_checkpoint

    if not is_tiny_checkpoint(TINY_MODEL_DIR):
        build_tiny_checkpoint(TINY_MODEL_DIR)
    return TINY_MODEL_DIR


def png_bytes(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="session")
def tiny_guard_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen3Guard-Gen-like checkpoint, built by the CLI users run."""
    from devtools.tiny_guard import main

    out = tmp_path_factory.mktemp("tiny-guard")
    main([str(out)])
    return out
