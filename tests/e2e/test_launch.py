"""The launcher on a fresh machine: a broken config fails fast and says why, and whatever way a
launch ends (a failure after Ray started, `serve run` dying, a signal during start-up), no process
it started survives it. Each test starts its own cluster from an empty HOME."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import yaml

from devtools.service import ROOT, free_port, write_config
from tests.e2e.launched import CleanWorld, Process

pytestmark = [pytest.mark.e2e, pytest.mark.own_cluster]

START_TIMEOUT_S = 420.0
FAIL_FAST_S = 60.0  # the bound for a broken config to end the launch


@pytest.fixture
def world() -> Iterator[CleanWorld]:
    w = CleanWorld()
    yield w
    w.close()


def launch(world: CleanWorld, config: Path, log: Path) -> Process:
    command = [sys.executable, "-m", "serve_app.ops.launch", str(config)]
    command += ["--metrics-port", str(free_port()), "--dashboard-port", str(free_port())]
    return Process(command, ROOT, world.env(QVS_HOME=str(ROOT)), log)


def cpu_config(tmp_path: Path, **overrides: dict) -> Path:
    return write_config(ROOT / "configs" / "cpu.yaml", tmp_path / "serve.yaml", free_port(), overrides)


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("qwen-vl-serve: ")]


def test_an_unknown_user_config_key_fails_in_seconds_with_one_line_and_starts_nothing(
    world: CleanWorld, tmp_path: Path
) -> None:
    config = cpu_config(tmp_path, Ingress={"no_such_key": 1})
    proc = launch(world, config, tmp_path / "launch.log")
    code = proc.wait(FAIL_FAST_S)
    took = time.monotonic() - proc.started
    [line] = error_lines(proc.output())
    print(f"\n[e2e] bad config: exit {code} after {took:.1f} s: {line}")
    assert code == 1
    assert "deployment Ingress user_config" in line and "no_such_key" in line and "Extra inputs" in line
    assert "Ray runtime started" not in proc.output()
    assert world.leftovers() == []


def test_a_deployment_that_cannot_start_ends_the_launch_and_leaves_no_process(
    world: CleanWorld, tmp_path: Path
) -> None:
    """Passes the preflight, fails after Ray started: the model directory holds no checkpoint."""
    empty_model = tmp_path / "not-a-checkpoint"
    empty_model.mkdir()
    config = yaml.safe_load(cpu_config(tmp_path).read_text())
    config["applications"][0]["args"]["engine"]["model"] = str(empty_model)
    path = tmp_path / "broken-model.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    proc = launch(world, path, tmp_path / "launch.log")
    proc.wait_for_line("Ray runtime started", START_TIMEOUT_S)
    code = proc.wait(START_TIMEOUT_S)
    [line] = error_lines(proc.output())
    print(f"\n[e2e] failed deployment: exit {code} after {time.monotonic() - proc.started:.1f} s: {line}")
    assert code == 1
    assert "deployment VLM of qwen-vl" in line
    assert world.leftovers() == []


def test_serve_run_dying_ends_the_launch_and_leaves_no_process(world: CleanWorld, tmp_path: Path) -> None:
    proc = launch(world, cpu_config(tmp_path), tmp_path / "launch.log")
    proc.wait_for_line("Ray runtime started", START_TIMEOUT_S)

    def cmdline(p: psutil.Process) -> list[str]:
        try:
            return p.cmdline()
        except psutil.Error:  # exited (or a zombie) between listing and reading
            return []

    def serve_run() -> list[psutil.Process]:
        return [p for p in psutil.Process(proc.proc.pid).children(recursive=True) if "run" in cmdline(p)[1:3]]

    proc.wait_for(lambda: bool(serve_run()), START_TIMEOUT_S, "`serve run`")
    for p in serve_run():
        p.kill()
    code = proc.wait(120)
    assert code == 1
    assert any("`serve run` exited" in line for line in error_lines(proc.output()))
    assert world.leftovers() == []


def test_ctrl_c_during_start_up_stops_at_once_and_leaves_no_process(world: CleanWorld, tmp_path: Path) -> None:
    proc = launch(world, cpu_config(tmp_path), tmp_path / "launch.log")
    proc.wait_for_line("Running config file", START_TIMEOUT_S)  # Ray is up, serve run is deploying
    sent = time.monotonic()
    proc.signal_group(signal.SIGINT)
    code = proc.wait(60)
    took = time.monotonic() - sent
    print(f"\n[e2e] Ctrl-C during start-up: exit {code} {took:.1f} s after the signal")
    assert code == 130
    assert "interrupted during start-up" in proc.output()
    assert world.leftovers() == []
