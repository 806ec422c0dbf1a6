"""The processes one launch started, and how to stop them.

Why not names: ``ray stop`` kills every Ray process of the user on the machine, another project's
cluster too. Two ways to know our own, used together:

* The launcher is a *child subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``): ``ray start`` exits after
  spawning GCS, raylet and the dashboard, and without this they would be re-parented to PID 1 and
  lost; with it they stay below the launcher, so its descendants are exactly what it started.
* Every process of a launch inherits ``QVS_LAUNCH_ID=<uuid>`` in its environment. Ray rewrites its
  processes' titles over their argv and environment memory (``ray::DashboardAgent``), so the marker
  can only be read from processes that keep it; it finds e.g. a ``serve run`` left by a killed launcher.
"""

from __future__ import annotations

import ctypes
import os
import sys
import uuid

import psutil

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>

LAUNCH_ID_ENV = "QVS_LAUNCH_ID"


def new_launch_id() -> str:
    return uuid.uuid4().hex


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux only; elsewhere the environment marker is all there is)."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def descendants() -> list[psutil.Process]:
    """Every live process below this one (with a subreaper: everything it ever started)."""
    return [p for p in psutil.Process().children(recursive=True) if _alive(p)]


def reap_adopted(keep: set[int]) -> None:
    """Collect adopted children that exited (a subreaper must, or they stay zombies); ``keep``: pids a
    ``subprocess.Popen`` owns and waits for itself."""
    for child in psutil.Process().children():
        if child.pid in keep:
            continue
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(child.pid, os.WNOHANG)
        except (psutil.NoSuchProcess, ChildProcessError):
            continue


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def marked_processes(name: str, value: str, *, exclude: set[int] | None = None) -> list[psutil.Process]:
    """Live processes whose environment has ``name=value`` (this user's; others' are unreadable)."""
    skip = (exclude or set()) | {os.getpid()}
    found = []
    for proc in psutil.process_iter():
        if proc.pid in skip:
            continue
        try:
            if proc.environ().get(name) == value and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


def terminate(processes: list[psutil.Process], grace_s: float) -> list[psutil.Process]:
    """SIGTERM, wait up to ``grace_s``, then SIGKILL whatever is left; returns those that were killed."""
    for proc in processes:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(processes, timeout=grace_s)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=grace_s)
    return alive
