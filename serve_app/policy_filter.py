"""The CPU deployment that applies the content policy to inputs and outputs."""

from __future__ import annotations

import logging
from typing import Any, Literal

from ray import serve

from pipelines.policy import PolicyDecision, PolicyEngine, load_policy
from serve_app.config import PolicyUserConfig, resolve_path

logger = logging.getLogger("ray.serve")


@serve.deployment(name="PolicyFilter")
class PolicyFilterDeployment:
    """Holds the compiled policy; ``reconfigure`` swaps it atomically under live traffic."""

    def __init__(self) -> None:
        self.engine: PolicyEngine | None = None

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        settings = PolicyUserConfig.model_validate(user_config)
        policy = load_policy(resolve_path(settings.policy_file))
        for category, terms in settings.extra_terms.items():
            policy = policy.with_extra_terms(category, terms)
        self.engine = PolicyEngine(policy)  # one assignment: requests see the old or the new policy
        logger.info("policy %s loaded from %s", policy.version, settings.policy_file)

    def check(self, text: str, direction: Literal["input", "output"]) -> PolicyDecision:
        if self.engine is None:
            raise RuntimeError("policy not loaded")
        return self.engine.check(text, direction)

    def policy_version(self) -> str:
        return self.engine.policy.version if self.engine else ""

    def check_health(self) -> None:
        if self.engine is None:
            raise RuntimeError("policy not loaded")
