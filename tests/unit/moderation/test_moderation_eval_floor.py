"""Quality floors of the shipped text moderation, so a regression fails CI.

* The hand-written plain cases (``evals/plain_cases.py``, never trained on) through all CPU layers:
  binary recall and false-positive rate; the same for the blind held-out set
  (``evals/plain_cases_blind.py``), counts only.
* The classifier's validation split, rebuilt from the artifact's manifest (needs the training
  corpus in ``../shared/datasets/moderation-train``; skipped with a reason where it is absent):
  per-category F1 and FPR of the classifier alone, at its operating point (0.5).

Floors sit a little under what the shipped artifact measured (in the comments); raise them when a
retrained artifact does better, never lower them to make a worse one pass.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.moderation_eval import Counts, shipped_engine
from evals.plain_cases import PLAIN_CASES
from evals.plain_cases_blind import BLIND_CASES
from pipelines.moderation.text.classifier.model import DEFAULT_ARTIFACT, TextClassifier

ROOT = Path(__file__).resolve().parents[3]
TRAIN_DATA = ROOT.parent / "shared" / "datasets" / "moderation-train"

# policy 2026.12.02-3 with the shipped layers (rules, the classifier's hate/harassment, sexual,
# sexual/minors and self-harm categories, targeted profanity) measured recall 0.995 / FPR 0.042 on the
# 390 development cases (the rules were extended against them: a regression guard, not an estimate)
PLAIN_RECALL_FLOOR = 0.97
PLAIN_FPR_CEILING = 0.05
# and recall 0.725 / FPR 0.025 on the 200 blind cases, which nothing was ever changed against
BLIND_RECALL_FLOOR = 0.70
BLIND_FPR_CEILING = 0.04
# category -> (F1 floor, FPR ceiling) on the validation split, classifier alone; measured F1 / FPR in comments
VALIDATION_FLOORS: dict[str, tuple[float, float]] = {
    "sexual": (0.72, 0.01),  # 0.767 / 0.003
    "sexual/minors": (0.95, 0.01),  # 0.975 / 0.0
    "violence": (0.70, 0.01),  # 0.725 / 0.006
    "hate/harassment": (0.82, 0.04),  # 0.838 / 0.026
    "self-harm": (0.65, 0.01),  # 0.679 / 0.001
    "illegal": (0.77, 0.01),  # 0.795 / 0.005
    "spam": (0.78, 0.01),  # 0.803 / 0.004
    "pii": (0.95, 0.005),  # 0.978 / 0.0
}
COLD_DEV_F1_FLOOR = 0.85  # 0.867
COLD_DEV_FPR_CEILING = 0.08  # 0.066


def test_plain_cases_recall_and_false_positive_rate() -> None:
    engine = shipped_engine()
    flagged = [bool(engine.check(case.text, "input").fired) for case in PLAIN_CASES]
    counts = Counts.of([case.positive for case in PLAIN_CASES], flagged)
    misses = [c.text for c, f in zip(PLAIN_CASES, flagged, strict=True) if c.positive and not f]
    alarms = [c.text for c, f in zip(PLAIN_CASES, flagged, strict=True) if not c.positive and f]
    assert counts.recall >= PLAIN_RECALL_FLOOR, misses
    assert counts.fpr <= PLAIN_FPR_CEILING, alarms


def test_blind_plain_cases_recall_and_false_positive_rate() -> None:
    """Counts only: the cases are not printed, so a failure cannot turn the blind set into a target."""
    engine = shipped_engine()
    flagged = [bool(engine.check(case.text, "input").fired) for case in BLIND_CASES]
    counts = Counts.of([case.positive for case in BLIND_CASES], flagged)
    assert counts.recall >= BLIND_RECALL_FLOOR, f"recall {counts.recall:.3f}"
    assert counts.fpr <= BLIND_FPR_CEILING, f"FPR {counts.fpr:.3f}"


@pytest.fixture(scope="module")
def validation() -> tuple[list, np.ndarray, TextClassifier]:
    if not TRAIN_DATA.is_dir():
        pytest.skip(f"training corpus not found at {TRAIN_DATA}")
    from devtools.train_text_classifier import validation_examples

    model = TextClassifier(DEFAULT_ARTIFACT)
    examples = validation_examples(TRAIN_DATA, model.manifest)
    return examples, model.scores_many([e.text for e in examples]), model


@pytest.mark.parametrize("category", sorted(VALIDATION_FLOORS))
def test_validation_split_floor(validation: tuple[list, np.ndarray, TextClassifier], category: str) -> None:
    examples, scores, model = validation
    j = model.categories.index(category)
    known = [i for i, e in enumerate(examples) if category not in e.unknown]
    counts = Counts.of([category in examples[i].positives for i in known], [scores[i, j] >= 0.5 for i in known])
    f1_floor, fpr_ceiling = VALIDATION_FLOORS[category]
    assert counts.f1 >= f1_floor, counts
    assert counts.fpr <= fpr_ceiling, counts


def test_cold_dev_floor(validation: tuple[list, np.ndarray, TextClassifier]) -> None:
    """Chinese offensive language like the training corpus's: any category fired, COLD dev only."""
    examples, scores, _ = validation
    idx = [i for i, e in enumerate(examples) if e.source == "cold_dev_zh"]
    counts = Counts.of([bool(examples[i].positives) for i in idx], [bool((scores[i] >= 0.5).any()) for i in idx])
    assert counts.f1 >= COLD_DEV_F1_FLOOR, counts
    assert counts.fpr <= COLD_DEV_FPR_CEILING, counts


def test_shipped_sentence_margin_kept_its_false_positive_budget() -> None:
    """The margin for scoring sentences alone was chosen within the composite FPR budget (or is off)."""
    model = TextClassifier(DEFAULT_ARTIFACT)
    extra = model.manifest.model_extra or {}
    margin = model.manifest.sentence_margin
    if margin is None:
        pytest.skip("the artifact scores windows only")
    measured = extra["composite_validation"][f"margin {margin}"]
    assert measured["fpr"] <= extra["training"]["config"]["composite_max_fpr"], measured
    assert measured["f1"] >= extra["composite_validation"]["windows only"]["f1"], measured
