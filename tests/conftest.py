"""Fixtures shared by all test kinds: the tiny Qwen3-VL checkpoint and images made in memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.service import TINY_MODEL_DIR

ROOT = Path(__file__).resolve().parent.parent


def _run_order(item: pytest.Item) -> int:
    """Unit tests first (fast feedback); then tests that start their own cluster on Ray's default ports,
    before the shared e2e service exists; then the e2e tests on that service; last the one that stops it."""
    if item.get_closest_marker("e2e") is None:
        return 0
    if item.get_closest_marker("own_cluster") is not None:
        return 1
    if item.get_closest_marker("stops_service") is not None:
        return 3
    return 2


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_run_order)  # stable: the order within each group is unchanged


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """The checkpoint `make tiny-model` builds; built here if a test run starts without it."""
    from devtools.tiny_model import build_tiny_checkpoint, is_tiny_checkpoint

    if not is_tiny_checkpoint(TINY_MODEL_DIR):
        build_tiny_checkpoint(TINY_MODEL_DIR)
    return TINY_MODEL_DIR


@pytest.fixture(scope="session")
def tiny_guard_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen3Guard-Gen-like checkpoint, built by the CLI users run."""
    from devtools.tiny_guard import main

    out = tmp_path_factory.mktemp("tiny-guard")
    main([str(out)])
    return out
