"""Choose the targeted profanity layer's operating point on the classifier's English validation rows.

Run: ``python -m devtools.profanity_calibration [--data ../shared/datasets/moderation-train]``

The rows are the validation split the shipped classifier's thresholds were chosen on (rebuilt from its
manifest), English, known for ``hate/harassment`` and not ambiguous. Each text scores the highest
probability of its sentences aimed at someone (``ProfanityConfig.target_pattern``). The chosen point is
the candidate with the best F1 whose false-positive rate on *clean* texts (no category at all) stays
within ``--max-fpr`` in every source of at least ``--min-group`` such texts, and in the English benign
hand-written look-alikes of ``evals/plain_cases.py`` (a development set: "shoot me a message", game
banter, counter-speech); it is printed, with the table, for ``ProfanityConfig.operating_point``.

The budget is the service's target false-alarm rate on plain texts (0.05), the one the classifier's
sentence margin is chosen under. Davidson's tweets take no part in the check: which of
its offensive tweets count as negatives was itself decided by second-person words
(``devtools.moderation_data``), so its false-positive rate would measure that rule, not the layer.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from devtools.moderation_data import AMBIGUOUS
from devtools.train_text_classifier import validation_examples
from evals.plain_cases import PLAIN_CASES
from pipelines.moderation.text.classifier.model import DEFAULT_ARTIFACT, TextClassifier
from pipelines.moderation.text.detectors import DetectContext
from pipelines.moderation.text.layers import ProfanityConfig, ProfanityLayer
from pipelines.moderation.text.normalize import NormalizedText

CATEGORY = "hate/harassment"
CANDIDATES = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def raw_scores(texts: list[str]) -> np.ndarray:
    """Each text's highest targeted-sentence probability (operating point 0.5: scores are probabilities)."""
    layer = ProfanityLayer(ProfanityConfig(operating_point=0.5))
    context = DetectContext()
    return np.array([max((h.score for h in layer.detect(NormalizedText.of(t), context)), default=0.0) for t in texts])


EXCLUDED_GROUPS = frozenset({"davidson_en"})


def choose(
    scores: np.ndarray, y: np.ndarray, clean: np.ndarray, groups: np.ndarray, max_fpr: float, min_group: int
) -> tuple[float | None, list[tuple[float, ...]]]:
    """(chosen point or None, rows of point / precision / recall / F1 / worst group FPR on clean texts)."""
    checked = [
        g
        for g in sorted(set(groups.tolist()))
        if g not in EXCLUDED_GROUPS and (clean & (groups == g)).sum() >= min_group
    ]
    rows, best, chosen = [], -1.0, None
    for point in CANDIDATES:
        predicted = scores >= point
        tp, fp, fn = int((predicted & y).sum()), int((predicted & ~y).sum()), int((~predicted & y).sum())
        precision = tp / max(1, tp + fp)
        recall = tp / max(1, tp + fn)
        f1 = 2 * precision * recall / max(1e-9, precision + recall)
        worst = max(float((predicted & clean & (groups == g)).sum() / (clean & (groups == g)).sum()) for g in checked)
        rows.append((point, precision, recall, f1, worst))
        if worst <= max_fpr and f1 > best:
            best, chosen = f1, point
    return chosen, rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/datasets/moderation-train"
    )
    parser.add_argument("--max-fpr", type=float, default=0.05, help="on clean texts, in every checked source")
    parser.add_argument("--min-group", type=int, default=50, help="sources with fewer clean texts are not checked")
    args = parser.parse_args(argv)
    manifest = TextClassifier(Path(DEFAULT_ARTIFACT)).manifest
    rows = [
        e
        for e in validation_examples(args.data, manifest)
        if e.lang == "en" and CATEGORY not in e.unknown and AMBIGUOUS not in e.tags
    ]
    y = np.array([CATEGORY in e.positives for e in rows])
    look_alikes = [c.text for c in PLAIN_CASES if c.lang == "en" and not c.positive]
    texts = [e.text for e in rows] + look_alikes
    y = np.concatenate([y, np.zeros(len(look_alikes), dtype=bool)])
    clean = np.array([not e.positives for e in rows] + [True] * len(look_alikes))
    groups = np.array(
        [f"{e.source}:{e.group}" if e.source == "synthetic" else e.source for e in rows]
        + ["plain_cases_en"] * len(look_alikes)
    )
    chosen, table = choose(raw_scores(texts), y, clean, groups, args.max_fpr, min(args.min_group, len(look_alikes)))
    print(f"{len(rows)} English validation rows, {int(y.sum())} positive for {CATEGORY}")
    print("point  precision  recall     f1  worst clean FPR")
    for point, precision, recall, f1, fpr in table:
        print(f"{point:5.2f}  {precision:9.3f}  {recall:6.3f}  {f1:5.3f}  {fpr:5.3f}")
    print(f"operating point: {chosen} (best F1 with every checked source's clean FPR <= {args.max_fpr})")


if __name__ == "__main__":
    main()
