"""Choosing the text classifier's operating points on its validation split, and measuring them.

Used by :mod:`devtools.train_text_classifier`: a threshold per category within a false-positive budget
in every validation source, the sentence margin on composite texts, and the validation metrics.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import numpy as np

from devtools.moderation_data import AMBIGUOUS, CATEGORIES, Example

if TYPE_CHECKING:
    from devtools.train_text_classifier import TrainConfig


def choose_threshold(p: np.ndarray, y: np.ndarray, groups: np.ndarray, max_fpr: float, min_negatives: int) -> float:
    """The threshold with the best F1 among those whose false-positive rate is within budget in *every*
    validation group with ``min_negatives`` negatives (COLD dev, the other real files, the synthetic
    texts): a budget met only on average would let the easy synthetic negatives hide a real source's
    false alarms. Ties go to the higher threshold."""
    best_f1, best_t = -1.0, 0.5
    checked = [g for g in np.unique(groups) if int((~y & (groups == g)).sum()) >= min_negatives]
    for t in np.unique(np.round(np.concatenate([np.linspace(0.02, 0.98, 97), p]), 3)):
        if not 0.02 <= t <= 0.98:
            continue
        pred = p >= t
        if any((pred & ~y & (groups == g)).sum() > max_fpr * (~y & (groups == g)).sum() for g in checked):
            continue
        fp = int((pred & ~y).sum())
        tp = int((pred & y).sum())
        fn = int((~pred & y).sum())
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best_f1 or (f1 == best_f1 and t > best_t):
            best_f1, best_t = f1, float(t)
    return best_t


def fpr_group(example: Example) -> str:
    """Each real source file is its own group (tweets, COLD, JADE answers), the synthetic texts one more:
    a budget met on the mix could still over-block one kind of text."""
    return example.source


def composite_texts(val_rows: list[Example], config: TrainConfig) -> tuple[list[list[int]], np.ndarray]:
    """Multi-sentence validation texts like the ones the layer windows: validation texts of one language
    joined (up to ``composite_chars``), either benign parts only, or one positive among benign parts.

    Returns each composite's parts (indices into ``val_rows``) and whether it holds a positive. Seen-family
    synthetic rows and ambiguous rows take no part.
    """
    rng = random.Random(f"{config.seed}:composites")
    usable = [i for i, e in enumerate(val_rows) if "seen_family" not in e.tags and AMBIGUOUS not in e.tags]
    # benign parts say nothing unknown (an untargeted profane tweet is no clean negative for `sexual`)
    benign = {
        lang: [i for i in usable if not val_rows[i].positives and not val_rows[i].unknown and val_rows[i].lang == lang]
        for lang in ("en", "zh")
    }
    positives = [i for i in usable if val_rows[i].positives and benign[val_rows[i].lang]]
    parts: list[list[int]] = []
    labels: list[bool] = []
    for k in range(2 * config.composites):
        positive = k % 2 == 0
        first = rng.choice(positives) if positive else rng.choice(benign[rng.choice(("en", "zh"))])
        pool = benign[val_rows[first].lang]
        chosen, size = [first], len(val_rows[first].text)
        for _ in range(rng.randint(1, 3)):
            other = rng.choice(pool)
            if other in chosen:
                continue
            if size + len(val_rows[other].text) > config.composite_chars and len(chosen) > 1:
                break
            chosen.append(other)
            size += len(val_rows[other].text) + 1
        rng.shuffle(chosen)
        parts.append(chosen)
        labels.append(positive)
    return parts, np.array(labels)


def choose_sentence_margin(
    parts: list[list[int]],
    y: np.ndarray,
    window_z: np.ndarray,
    part_z: np.ndarray,
    margins: list[float],
    max_fpr: float,
) -> tuple[float | None, dict[str, dict[str, float]]]:
    """How much stricter (in logit units) a sentence scored alone must be than its window.

    A composite is flagged when its window's decision value is at least 0 in some category, or one of
    its parts' values minus the margin is. Scoring parts alone catches one bad sentence among harmless
    ones; it also gives every sentence its own chance at a false alarm. Among the margins whose FPR on
    the benign composites is within ``max_fpr``, the one with the best binary F1 wins (ties: the larger
    margin); "windows only" (None) always competes. F1 alone would not do: at the composites' 1:1
    prevalence it buys recall with any number of false alarms (margin 0 won at FPR 0.20).
    """
    window_hit = (window_z >= 0).any(axis=1)
    part_max = np.array([part_z[p].max() for p in parts])  # the best (part, category) value per composite
    candidates: list[tuple[float | None, np.ndarray]] = [(None, window_hit)]
    candidates += [(m, window_hit | (part_max - m >= 0)) for m in sorted(margins, reverse=True)]
    report: dict[str, dict[str, float]] = {}
    best: tuple[float, float | None] = (-1.0, None)
    for margin, pred in candidates:
        metrics = binary_metrics(pred, y)
        report["windows only" if margin is None else f"margin {margin}"] = metrics
        if metrics["f1"] > best[0] and (margin is None or metrics["fpr"] <= max_fpr):
            best = (metrics["f1"], margin)
    return best[1], report


def binary_metrics(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    tp, fp = int((pred & y).sum()), int((pred & ~y).sum())
    fn, tn = int((~pred & y).sum()), int((~pred & ~y).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {
        "n": tp + fp + fn + tn,
        "positives": tp + fn,
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4),
        "fpr": round(fp / (fp + tn) if fp + tn else 0.0, 4),
    }


def subsets(examples: list[Example]) -> dict[str, np.ndarray]:
    def mask(predicate) -> np.ndarray:
        return np.array([predicate(e) for e in examples])

    return {
        "all": mask(lambda e: True),
        "cold_dev_zh": mask(lambda e: e.source == "cold_dev_zh"),
        "real_other": mask(lambda e: e.source not in ("cold_dev_zh", "synthetic")),
        "synthetic_seen_family": mask(lambda e: "seen_family" in e.tags),
        "synthetic_unseen_family": mask(lambda e: "unseen_family" in e.tags),
    }


def evaluate(scores: np.ndarray, examples: list[Example]) -> dict[str, object]:
    """Per-category and "any category" metrics at the 0.5 operating point, overall and by subset."""
    out: dict[str, object] = {}
    for name, m in subsets(examples).items():
        if not m.any():
            continue
        chosen = [e for e, keep in zip(examples, m, strict=True) if keep]
        s = scores[m]
        per: dict[str, object] = {}
        for j, category in enumerate(CATEGORIES):
            known = np.array([category not in e.unknown for e in chosen])
            y = np.array([category in e.positives for e in chosen])[known]
            if y.size and y.any():
                per[category] = binary_metrics(s[known, j] >= 0.5, y)
        clear = np.array([AMBIGUOUS not in e.tags for e in chosen])
        y_any = np.array([bool(e.positives) for e in chosen])[clear]
        per["any"] = binary_metrics((s[clear] >= 0.5).any(axis=1), y_any)
        out[name] = per
    return out
