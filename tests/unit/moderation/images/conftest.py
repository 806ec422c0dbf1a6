"""The image-text tests' rules-only engine of the shipped policy, one per module."""

from __future__ import annotations

import pytest

from pipelines.moderation.policy.engine import PolicyEngine
from tests.unit.shipped import rules_engine


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return rules_engine()
