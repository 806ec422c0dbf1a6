"""What the policy tests share: the shipped policy file, a policy built in code, a stub layer."""

from __future__ import annotations

from typing import Any

from evals.categories import POLICY_CATEGORIES
from pipelines.moderation.policy.config import Policy
from pipelines.moderation.text.detectors import DetectContext, Hit
from pipelines.moderation.text.normalize import NormalizedText
from tests.unit.shipped import ROOT

LEXICONS = ROOT / "configs" / "lexicons"
CATEGORIES = {*POLICY_CATEGORIES, "custom"}
# Reported by model layers only (guard model, screener outages); no rule detectors of their own.
MODEL_ONLY_CATEGORIES = {"political", "copyright", "jailbreak", "other", "guard_unavailable", "screen_unavailable"}
ZW = "\u200b\u200c\u200d\u2060\ufeff"


def make_policy(categories: dict[str, dict[str, Any]], **top: Any) -> Policy:
    return Policy.model_validate(
        {
            "version": "test-1",
            "block_message": "withheld",
            "redaction_placeholder": "[X]",
            **top,
            "categories": categories,
        }
    )


class StubLayer:
    """A classifier-like layer: fixed hits, and a record of whether it ran."""

    name = "stub"

    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits
        self.calls = 0

    def detect(self, text: NormalizedText, context: DetectContext) -> list[Hit]:
        self.calls += 1
        return self.hits
