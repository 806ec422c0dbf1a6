"""What the linear-time tests share: adversarial texts of any length, and CPU time that ignores the
other processes on a shared machine."""

from __future__ import annotations

import time
from collections.abc import Callable

# Texts of n characters that would make a backtracking matcher or a quadratic normaliser slow; each
# test module adds its own.
COMMON_ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "a*N": lambda n: "a" * n,
    "tg+spaces": lambda n: "tg" + " " * (n - 2),
    "digits": lambda n: "1" * n,
    "look-alikes": lambda n: ("рorn " * n)[:n],
    "emoji": lambda n: ("w🍑" * n)[:n],
}


def cpu_seconds(function: Callable[[], object], repeat: int = 3) -> float:
    """Best-of-``repeat`` CPU time of this thread: other processes on a shared machine do not count."""
    best = float("inf")
    for _ in range(repeat):
        start = time.thread_time()
        function()
        best = min(best, time.thread_time() - start)
    return best
