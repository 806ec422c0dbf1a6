"""The shipped classifier as a policy layer: per-window scores for every policy category it knows.

Decisions:

* Scores are per *window*: consecutive sentences merged up to ``window_chars`` characters are scored
  together (a short comment whole, as the model was trained: most training texts are one to three
  sentences). Each sentence of a multi-sentence window is scored alone too only when the artifact
  has a ``sentence_margin`` (or the config sets one), and must then clear its operating point by that
  many logits: every extra piece is another chance at a false alarm (a max over many pieces
  over-blocks long benign texts), so the margin is chosen on composite validation texts by the
  trainer, and "windows only" is one of the candidates. Scoring a sentence alone keeps one abusive
  sentence from being diluted by its harmless neighbours and lets its span be redacted alone.
* Without sentence scoring a window is featurised once, as the training texts were; with it a
  sentence is featurised once and a window's features are its sentences' features together.
* Cost is bounded whatever the input: only the first ``max_text_chars`` characters are scored (the
  rule layers still see everything), in at most ``max_sentences`` sentences (the rest is one piece)
  and ``max_windows`` windows.
* Scores keep the artifact's calibration: 0.5 is the operating point chosen on the validation split
  (see ``model.py``), so the policy's default category threshold of 0.5 uses it, and a higher policy
  threshold is stricter. ``operating_points`` moves a category's point without retraining.
* Hits under ``report_floor`` are not emitted: they would fire nothing and only grow decisions; the
  cascade's band must start at or above the floor (checked in ``LayersConfig``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipelines.moderation.text.classifier.model import DEFAULT_ARTIFACT, TextClassifier, logit, sigmoid
from pipelines.moderation.text.detectors import DetectContext, Hit
from pipelines.moderation.text.normalize import NormalizedText
from pipelines.moderation.text.sentences import sentence_spans

# the categories whose training data is broad and clean enough to act on by default (see `categories`)
DEFAULT_CATEGORIES = ("hate/harassment", "sexual", "sexual/minors", "self-harm")


class ClassifierConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Score every text with the shipped zh+en moderation classifier.")
    artifact: str | None = Field(
        None, description="Folder with model.npz + manifest.json; null: the artifact shipped in the package."
    )
    category_map: dict[str, str] = Field(
        default_factory=dict,
        description="Classifier category -> policy category to report it under; unmapped ones keep their name. "
        "Categories the policy does not define are dropped by the engine.",
    )
    categories: list[str] | None = Field(
        default_factory=lambda: list(DEFAULT_CATEGORIES),
        description="Classifier categories that report hits; null: all of the artifact's. The default leaves "
        "out `illegal` and `violence` (trained mostly on JADE's machine-mutated questions, whose labels the "
        "corpus README calls noisy and thin for violence, and which teach question wording itself: benign "
        "Chinese shopping questions score high, and harmful texts of other categories score violence), `spam` "
        "(YouTube comments only, so plain instructions score high) and `pii` (digits are folded to "
        "one shape, so it cannot tell a card from an order number; the checksum patterns can); the rule layers "
        "cover those four.",
    )
    operating_points: dict[str, float] = Field(
        default_factory=dict,
        description="Per classifier category, a probability to use as the operating point instead of the one "
        "chosen on validation (manifest `thresholds`); it then scores 0.5.",
    )
    window_chars: int = Field(400, gt=0, description="Consecutive sentences are scored together up to this length.")
    max_windows: int = Field(64, gt=0, description="Windows scored one by one; the rest of the text is one window.")
    max_sentences: int = Field(256, gt=0, description="Sentences scored alone; the rest of the text is one piece.")
    max_text_chars: int = Field(32768, gt=0, description="Characters of a text the classifier scores.")
    report_floor: float = Field(0.05, ge=0.0, le=1.0, description="Scores below this are not reported as hits.")
    sentences_alone: bool = Field(
        True,
        description="Also score each sentence of a multi-sentence window alone, at the sentence margin; off, or "
        "with no margin in the config or the artifact: windows only.",
    )
    sentence_margin: float | None = Field(
        None,
        ge=0.0,
        description="Logits a sentence scored alone must clear beyond the operating point; null: the artifact's "
        "`sentence_margin` (itself null: windows only).",
    )

    @field_validator("operating_points")
    @classmethod
    def _probabilities(cls, points: dict[str, float]) -> dict[str, float]:
        for name, p in points.items():
            if not 0.0 < p < 1.0:
                raise ValueError(f"operating point of {name!r} must be strictly between 0 and 1, not {p}")
        return points


@lru_cache(maxsize=4)
def load_classifier(directory: str) -> TextClassifier:
    """One loaded model per artifact folder and process (layers of several engines share it)."""
    return TextClassifier(Path(directory))


class ClassifierLayer:
    """Linear TF-IDF model over character n-grams and words (Chinese and English); see ``model.py``."""

    name = "classifier"
    cost = "cheap"  # about a millisecond per short text: may screen every streamed delta

    def __init__(self, config: ClassifierConfig, classifier: TextClassifier | None = None) -> None:
        self.config = config
        self.model = classifier or load_classifier(str(config.artifact or DEFAULT_ARTIFACT))
        thresholds = self.model.manifest.thresholds
        unknown = set(config.operating_points) - set(self.model.categories)
        if unknown:
            raise ValueError(f"operating_points for categories the classifier lacks: {sorted(unknown)}")
        missing = set(config.categories or ()) - set(self.model.categories)
        if missing:
            raise ValueError(f"categories the classifier lacks: {sorted(missing)}")
        reported = set(config.categories) if config.categories is not None else set(self.model.categories)
        self._reported = [c in reported for c in self.model.categories]
        # moving the operating point from t0 to t adds logit(t0) - logit(t) to the decision value
        self._shift = np.array(
            [
                logit(thresholds[c]) - logit(config.operating_points[c]) if c in config.operating_points else 0.0
                for c in self.model.categories
            ],
            dtype=np.float32,
        )
        self._names = [config.category_map.get(c, c) for c in self.model.categories]
        margin = config.sentence_margin if config.sentence_margin is not None else self.model.manifest.sentence_margin
        alone = config.sentences_alone and margin is not None
        self._sentence_shift = self._shift - np.float32(margin) if alone else None

    def windows(self, text: str) -> list[list[tuple[int, int]]]:
        """The scored windows, each a list of its sentence spans: sentences merged up to ``window_chars``."""
        windows: list[list[tuple[int, int]]] = []
        for start, end in sentence_spans(text[: self.config.max_text_chars], self.config.max_sentences):
            if windows and end - windows[-1][0][0] <= self.config.window_chars:
                windows[-1].append((start, end))
            else:
                windows.append([(start, end)])
        if len(windows) > self.config.max_windows:
            keep = self.config.max_windows
            windows = [*windows[: keep - 1], [span for window in windows[keep - 1 :] for span in window]]
        return windows

    def window_scores(self, text: str) -> list[tuple[int, int, np.ndarray]]:
        """(start, end, per-category scores in the artifact's order) of every window, and of every
        sentence of a multi-sentence window when sentences are scored alone (their margin applied)."""
        out = []
        for window in self.windows(text):
            start, end = window[0][0], window[-1][1]
            if self._sentence_shift is None or len(window) == 1:
                out.append((start, end, self._scores(self.model.feature_ids(text[start:end]), self._shift)))
                continue
            ids = [self.model.feature_ids(text[s:e]) for s, e in window]
            out.append((start, end, self._scores(np.concatenate(ids), self._shift)))
            out += [(s, e, self._scores(one, self._sentence_shift)) for (s, e), one in zip(window, ids, strict=True)]
        return out

    def _scores(self, ids: np.ndarray, shift: np.ndarray) -> np.ndarray:
        return sigmoid(self.model.logits(ids) + shift)

    def detect(self, text: NormalizedText, context: DetectContext) -> list[Hit]:
        hits = []
        floor = self.config.report_floor
        for start, end, scores in self.window_scores(text.original):
            for name, reported, score in zip(self._names, self._reported, scores.tolist(), strict=True):
                if reported and score >= floor:
                    hits.append(Hit(name, start, end, score, self.name, ""))
        return hits
