"""The one base for typed configuration: strict (an unknown key is an error, so a typo fails loudly at
load time instead of being ignored) and frozen (a config object is a value: it can be compared to
tell whether something must be rebuilt, and shared between threads)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictConfig(BaseModel):
    """Strict and frozen: every config model of the project derives from it."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())
