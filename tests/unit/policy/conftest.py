"""The shipped policy and a rules-only engine on it, loaded once per module."""

from __future__ import annotations

import pytest

from pipelines.moderation.policy.config import Policy, load_policy
from pipelines.moderation.policy.engine import PolicyEngine
from tests.unit.policy.helpers import POLICY_FILE


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(POLICY_FILE)


@pytest.fixture(scope="module")
def engine(policy: Policy) -> PolicyEngine:
    return PolicyEngine(policy)
