"""Readiness of the graph behind an ingress: the model loaded and warmed up, the policy loaded, and
the audit store healthy (it only gates readiness in `fail_closed` mode; in `fail_open` it is reported)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from serve_app.serving.backends import Model, Policy

logger = logging.getLogger("ray.serve")


@dataclass
class Readiness:
    ready: bool
    checks: dict[str, bool] = field(default_factory=dict)


class HealthService:
    def __init__(self, model: Model, policy: Policy, timeout_s: float) -> None:
        self.model = model
        self.policy = policy
        self.timeout_s = timeout_s

    async def readiness(self) -> Readiness:
        checks = {"model": False, "policy": False, "audit": False}
        audit_gates = True
        try:
            info, policy = await asyncio.wait_for(
                asyncio.gather(self.model.model_info(), self.policy.health()), self.timeout_s
            )
            checks = {"model": bool(info["ready"]), "policy": bool(policy["policy_version"])}
            checks["audit"] = bool(policy["audit"]["ok"])
            audit_gates = policy["audit_fail_mode"] == "fail_closed"
        except Exception:
            logger.info("readiness check failed", exc_info=True)
        ready = checks["model"] and checks["policy"] and (checks["audit"] or not audit_gates)
        return Readiness(ready, checks)
