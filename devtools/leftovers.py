"""Run a command and fail if it leaves processes behind; or find what a run left.

What "started by the run" means, without guessing by name (which would also catch a developer's
own Ray cluster):

* descendants: this runner makes itself a child subreaper (Linux ``PR_SET_CHILD_SUBREAPER``), so a
  daemon that double-forks away (``ray start`` does) is re-parented to it rather than to PID 1;
* a marker: ``NAME=VALUE`` in a process's environment (inherited by everything the run starts);
* a root: a directory unique to the run (its ``HOME``, with Ray's temp dir inside it): a process
  whose working directory, executable or an open file lies below it belongs to the run. Ray rewrites
  its processes' titles over their environment, so for those the open log files in the session
  directory are what identifies them.

Standard library only: ``.ci/run`` uses it before and after the virtualenv exists.

Usage: ``python3 -m devtools.leftovers run --marker QVS_RUN=abc --root "$HOME" -- make test``
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
TERM_GRACE_S = 10.0


@dataclass(frozen=True)
class Leftover:
    pid: int
    name: str
    why: str


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def _link(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def _state(pid: int) -> str:
    """The one-letter state from /proc/PID/stat ("Z" for a zombie); "" when the process is gone."""
    stat = _read(f"/proc/{pid}/stat").decode(errors="replace")
    return stat.rpartition(")")[2].split()[0] if ")" in stat else ""


def _parent(pid: int) -> int:
    stat = _read(f"/proc/{pid}/stat").decode(errors="replace")
    fields = stat.rpartition(")")[2].split()
    return int(fields[1]) if len(fields) > 1 else 0


def _name(pid: int) -> str:
    return _read(f"/proc/{pid}/comm").decode(errors="replace").strip()


def _pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _descendants_of(root: int, pids: list[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid in pids:
        children.setdefault(_parent(pid), []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def find(
    marker: str | None = None, roots: list[Path] | None = None, *, descendants_of: int | None = None
) -> list[Leftover]:
    """Live processes (zombies excluded) that belong to the run by any of the three signs."""
    me = os.getpid()
    pids = _pids()
    roots_s = [str(Path(r).resolve()) for r in roots or []]
    below = _descendants_of(descendants_of, pids) if descendants_of is not None else set()
    marker_b = marker.encode() if marker else None
    found = []
    for pid in pids:
        if pid == me or _state(pid) in ("", "Z"):
            continue
        why = ""
        if pid in below:
            why = "descendant"
        elif marker_b and marker_b in _read(f"/proc/{pid}/environ").split(b"\0"):
            why = f"environment {marker}"
        elif roots_s:
            why = _root_reason(pid, roots_s)
        if why:
            found.append(Leftover(pid, _name(pid), why))
    return found


def _root_reason(pid: int, roots: list[str]) -> str:
    for label in ("cwd", "exe"):
        target = _link(f"/proc/{pid}/{label}")
        if target and _under(target, roots):
            return f"{label} {target}"
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return ""
    for fd in fds:
        target = _link(f"/proc/{pid}/fd/{fd}")
        if target.startswith("/") and _under(target, roots):
            return f"open file {target}"
    return ""


def stop(leftovers: list[Leftover], grace_s: float = TERM_GRACE_S) -> None:
    """SIGTERM, then SIGKILL after ``grace_s`` what is still there."""
    for proc in leftovers:
        _signal(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(_state(p.pid) not in ("", "Z") for p in leftovers):
        _reap()
        time.sleep(0.2)
    for proc in leftovers:
        if _state(proc.pid) not in ("", "Z"):
            _signal(proc.pid, signal.SIGKILL)
    _reap()


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _reap() -> None:
    """Collect our exited children (adopted orphans included), so that they do not linger as zombies."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def run(command: list[str], marker: str | None, roots: list[Path]) -> int:
    """Run ``command`` as a subreaper; its exit code, or 1 when it left processes behind (then stopped)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    code = subprocess.call(command)
    _reap()
    left = find(marker, roots, descendants_of=os.getpid())
    if not left:
        print("leftovers: no process of this run is left", flush=True)
        return code
    print(f"leftovers: {len(left)} processes of this run are still alive:", file=sys.stderr, flush=True)
    for proc in left:
        print(f"  pid {proc.pid} {proc.name} ({proc.why})", file=sys.stderr, flush=True)
    stop(left)
    return code or 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    runner = sub.add_parser("run", help="run a command, then fail if it left processes")
    runner.add_argument("--marker", help="NAME=VALUE set in the run's environment")
    runner.add_argument("--root", action="append", default=[], type=Path, help="directory unique to the run")
    runner.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    return run(command, args.marker, args.root)


if __name__ == "__main__":
    sys.exit(main())
