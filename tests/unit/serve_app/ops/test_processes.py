"""Finding what a run started: descendants under a subreaper, an environment marker, a unique root."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from devtools.leftovers import find, stop
from serve_app.ops.processes import marked_processes, terminate

# a daemon the way `ray start` makes one: it detaches (new session), its parent exits at once
DAEMON = (
    "import subprocess, sys; "
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True)"
)


def test_the_marker_finds_a_detached_daemon_and_terminate_stops_it() -> None:
    env = {**os.environ, "QVS_TEST_MARK": "m-1"}
    subprocess.run([sys.executable, "-c", DAEMON], env=env, check=True)
    deadline = time.monotonic() + 10
    while not (found := marked_processes("QVS_TEST_MARK", "m-1")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(found) == 1
    terminate(found, grace_s=5)
    assert marked_processes("QVS_TEST_MARK", "m-1") == []
    assert marked_processes("QVS_TEST_MARK", "another-run") == []


def test_leftovers_runner_reports_and_stops_what_a_command_left(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[4])}
    done = subprocess.run(
        [sys.executable, "-m", "devtools.leftovers", "run", "--", sys.executable, "-c", DAEMON],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "1 processes of this run are still alive" in done.stderr and "(descendant)" in done.stderr
    clean = subprocess.run(
        [sys.executable, "-m", "devtools.leftovers", "run", "--", sys.executable, "-c", "pass"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert clean.returncode == 0 and "no process of this run is left" in clean.stdout


def test_a_root_finds_processes_by_open_files(tmp_path: Path) -> None:
    log = tmp_path / "session" / "worker.log"
    log.parent.mkdir()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], stdout=out)
    try:
        [found] = find(None, [tmp_path])
        assert found.pid == proc.pid and str(log) in found.why
        stop([found], grace_s=5)
        proc.wait(timeout=10)
        assert find(None, [tmp_path]) == []
    finally:
        proc.kill()
