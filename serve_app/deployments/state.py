"""The state a deployment's ``reconfigure`` builds, as its methods and health check ask for it."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def configured(value: T | None, missing: str) -> T:
    """``value`` once ``reconfigure`` has built it; before that ``RuntimeError(missing)``, which Serve's
    ``check_health`` reports as an unhealthy replica."""
    if value is None:
        raise RuntimeError(missing)
    return value
