"""The shipped policy and a rules-only engine on it, loaded once per module."""

from __future__ import annotations

import pytest

from pipelines.moderation.policy.config import Policy
from pipelines.moderation.policy.engine import PolicyEngine
from tests.unit.shipped import shipped_policy


@pytest.fixture(scope="module")
def policy() -> Policy:
    return shipped_policy()


@pytest.fixture(scope="module")
def engine(policy: Policy) -> PolicyEngine:
    return PolicyEngine(policy)
