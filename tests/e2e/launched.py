"""A launch in a clean world: an empty HOME with Ray's temp dir inside it, and a marker in the
environment, so that every process the launch started can be found afterwards (devtools/leftovers.py)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from devtools.leftovers import Leftover, find, stop

MARKER_ENV = "QVS_TEST_RUN"


class CleanWorld:
    """An empty HOME (short path: Ray's socket paths must stay under 108 bytes) and a run marker."""

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="qvs-home-"))
        self.marker = uuid.uuid4().hex
        (self.home / "ray").mkdir()

    def env(self, **extra: str) -> dict[str, str]:
        # nothing of this process's Ray or launch settings leaks in (a CI run marker may stay)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "QVS_HOME", "QVS_LAUNCH_ID"))}
        return {
            **base,
            "HOME": str(self.home),
            "RAY_TMPDIR": str(self.home / "ray"),
            "RAY_USAGE_STATS_ENABLED": "0",
            "PYTHONUNBUFFERED": "1",
            MARKER_ENV: self.marker,
            **extra,
        }

    def leftovers(self) -> list[Leftover]:
        return find(f"{MARKER_ENV}={self.marker}", [self.home])

    def close(self) -> None:
        left = self.leftovers()
        if left:  # a failed test must not poison the next one's ports
            stop(left)
        shutil.rmtree(self.home, ignore_errors=True)


class Process:
    """A command started in its own session (as a terminal job is), its output in a log file."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, condition: Callable[[], bool], timeout_s: float, what: str) -> float:
        """Seconds until ``condition()`` held; fails when the process exits first or time runs out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return time.monotonic() - self.started
            if self.proc.poll() is not None:
                raise AssertionError(f"exited with {self.proc.returncode} before {what}:\n{self.tail()}")
            time.sleep(0.5)
        raise AssertionError(f"no {what} after {timeout_s} s:\n{self.tail()}")

    def wait_for_line(self, text: str, timeout_s: float) -> float:
        return self.wait_for(lambda: text in self.output(), timeout_s, repr(text))

    def wait_ready(self, base_url: str, timeout_s: float) -> float:
        def ready() -> bool:
            try:
                return httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        return self.wait_for(ready, timeout_s, "/readyz 200")

    def signal_group(self, signum: signal.Signals) -> None:
        """What a terminal does on Ctrl-C: the signal goes to the whole foreground process group."""
        os.killpg(self.proc.pid, signum)

    def wait(self, timeout_s: float) -> int:
        return self.proc.wait(timeout=timeout_s)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])
