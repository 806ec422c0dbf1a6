"""Precision and recall of a policy engine on labelled items, per rule category."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from evals.labelled.model import RULE_CATEGORIES, LabelledText
from pipelines.moderation.policy.config import Direction
from pipelines.moderation.policy.engine import PolicyEngine

Scores = tuple[float, float, int, int, int]  # precision, recall, tp, fp, fn


def fired_categories(
    engine: PolicyEngine, items: Iterable[LabelledText], direction: Direction = "input"
) -> list[set[str]]:
    return [set(engine.check(item.text, direction).fired) for item in items]


def score(items: Sequence[LabelledText], fired: Sequence[set[str]], categories: Iterable[str]) -> dict[str, Scores]:
    """Per category: precision, recall, tp, fp, fn. With nothing fired precision is 1.0 (no false
    alarm); with no positive item recall is 1.0."""
    out: dict[str, Scores] = {}
    for category in categories:
        tp = sum(1 for item, got in zip(items, fired, strict=True) if category in item.categories and category in got)
        fp = sum(
            1 for item, got in zip(items, fired, strict=True) if category not in item.categories and category in got
        )
        fn = sum(
            1 for item, got in zip(items, fired, strict=True) if category in item.categories and category not in got
        )
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        out[category] = (precision, recall, tp, fp, fn)
    return out


def precision_recall(
    engine: PolicyEngine, items: Sequence[LabelledText], direction: Direction = "input"
) -> dict[str, Scores]:
    """Each rule category's (precision, recall, tp, fp, fn) of ``engine`` on ``items``."""
    return score(items, fired_categories(engine, items, direction), RULE_CATEGORIES)
