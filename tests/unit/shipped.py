"""The shipped policy file, loaded once for the tests that only read it (a ``Policy`` is immutable)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pipelines.moderation.policy.config import Policy, load_policy
from pipelines.moderation.policy.engine import PolicyEngine

ROOT = Path(__file__).resolve().parents[2]
POLICY_FILE = ROOT / "configs" / "policy.yaml"


@cache
def shipped_policy() -> Policy:
    return load_policy(POLICY_FILE)


def rules_engine() -> PolicyEngine:
    """A new engine of the shipped policy's rule layers (terms and patterns) alone."""
    return PolicyEngine(shipped_policy())
