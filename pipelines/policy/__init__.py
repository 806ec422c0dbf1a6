"""The content policy: a policy file, detection layers (cheapest first) and the decision logic."""

from pipelines.policy.config import Action, CategoryPolicy, Direction, PatternSpec, Policy, load_policy
from pipelines.policy.detectors import DetectContext, Detector, Hit
from pipelines.policy.engine import CategoryResult, PolicyDecision, PolicyEngine

__all__ = [
    "Action",
    "CategoryPolicy",
    "CategoryResult",
    "DetectContext",
    "Detector",
    "Direction",
    "Hit",
    "PatternSpec",
    "Policy",
    "PolicyDecision",
    "PolicyEngine",
    "load_policy",
]
