"""The shipped text classifier: a plain-array artifact (``model.npz`` + ``manifest.json``) and its scorer.

Artifact layout (format version 1), written by ``devtools.train_text_classifier``:

* ``model.npz`` (loaded with ``allow_pickle=False``): ``vocab`` (the feature strings, UTF-8, joined
  by ``\\x00``, as a ``uint8`` array), ``idf`` (float32, one per feature), ``weights`` (float16,
  features x categories) and ``bias`` (float32, one per category).
* ``manifest.json``: format and feature versions, categories, the chosen operating points, the
  sentence margin (see ``layer.py``), feature settings, training sources with row counts and SHA-256,
  validation metrics, and the SHA-256 of ``model.npz`` (checked on load, so a truncated or swapped file fails loudly).

Scoring is a TF-IDF vector (sublinear term frequency, L2-normalised) times the weights, plus the bias,
through a sigmoid: one-vs-rest logistic regression. The trainer has already moved each bias so that
the operating point chosen on the validation split scores exactly 0.5 (``sigmoid(z - logit(t))``):
a policy threshold of 0.5 means "the classifier's chosen operating point", higher is stricter.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from pipelines.core.files import file_sha256
from pipelines.moderation.text.classifier.features import FEATURES_VERSION, FeatureSettings, grams

FORMAT_VERSION = 1
MODEL_FILE = "model.npz"
MANIFEST_FILE = "manifest.json"
VOCAB_SEPARATOR = "\x00"
DEFAULT_ARTIFACT = Path(__file__).resolve().parent / "model"


class ArtifactError(ValueError):
    """The artifact is missing, of another version, or does not match its manifest."""


class Manifest(BaseModel):
    """The manifest fields the scorer relies on; the rest (sources, metrics) is kept as written."""

    model_config = ConfigDict(extra="allow", frozen=True)

    format_version: int = Field(description="Artifact layout version.")
    categories: list[str] = Field(min_length=1, description="Output columns, in order.")
    features: FeatureSettings = Field(description="How texts became features.")
    model_sha256: str = Field(description="SHA-256 of model.npz.")
    thresholds: dict[str, float] = Field(description="Operating points (raw probabilities) chosen on validation.")
    sentence_margin: float | None = Field(
        None,
        ge=0.0,
        description="Logit margin a sentence scored alone must clear beyond its window's operating point, "
        "chosen on composite validation texts; null: only windows are scored.",
    )


@dataclass(frozen=True)
class Arrays:
    vocab: list[str]
    idf: np.ndarray
    weights: np.ndarray
    bias: np.ndarray

    def save(self, path: Path) -> None:
        joined = VOCAB_SEPARATOR.join(self.vocab).encode("utf-8")
        np.savez_compressed(
            path,
            vocab=np.frombuffer(joined, dtype=np.uint8),
            idf=self.idf.astype(np.float32),
            weights=self.weights.astype(np.float16),
            bias=self.bias.astype(np.float32),
        )


def load_arrays(path: Path) -> Arrays:
    with np.load(path, allow_pickle=False) as data:
        vocab = bytes(data["vocab"]).decode("utf-8").split(VOCAB_SEPARATOR)
        arrays = Arrays(vocab, data["idf"].astype(np.float32), data["weights"].astype(np.float32), data["bias"])
    if not (len(vocab) == arrays.idf.shape[0] == arrays.weights.shape[0]) or arrays.weights.ndim != 2:
        raise ArtifactError(f"{path}: vocab, idf and weights disagree in length")
    return arrays


class TextClassifier:
    """Loaded once per process; ``scores`` is pure and thread-safe."""

    def __init__(self, directory: Path = DEFAULT_ARTIFACT) -> None:
        manifest_path, model_path = directory / MANIFEST_FILE, directory / MODEL_FILE
        if not manifest_path.is_file() or not model_path.is_file():
            raise ArtifactError(f"{directory}: no {MANIFEST_FILE} + {MODEL_FILE} (train one with devtools)")
        raw: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
        self.manifest = Manifest.model_validate(raw)
        if self.manifest.format_version != FORMAT_VERSION:
            raise ArtifactError(f"{directory}: format {self.manifest.format_version}, this code reads {FORMAT_VERSION}")
        if self.manifest.features.version != FEATURES_VERSION:
            raise ArtifactError(f"{directory}: features v{self.manifest.features.version}, code v{FEATURES_VERSION}")
        if file_sha256(model_path) != self.manifest.model_sha256:
            raise ArtifactError(f"{model_path}: SHA-256 does not match the manifest")
        arrays = load_arrays(model_path)
        if arrays.weights.shape[1] != len(self.manifest.categories):
            raise ArtifactError(f"{directory}: {arrays.weights.shape[1]} weight columns for the manifest's categories")
        self.categories: tuple[str, ...] = tuple(self.manifest.categories)
        self.settings = self.manifest.features
        self.index = {gram: i for i, gram in enumerate(arrays.vocab)}
        self.idf = arrays.idf
        self.weights = arrays.weights
        self.bias = arrays.bias.astype(np.float32)

    def feature_ids(self, text: str) -> np.ndarray:
        """Vocabulary ids of the text's features, with repeats (unknown features are dropped)."""
        found = grams(text, self.settings)
        # one C-level pass (dict lookups with a -1 default) and a vectorised filter: the lookups are
        # most of the classifier's cost on a long text
        ids = np.fromiter(map(self.index.get, found, itertools.repeat(-1)), dtype=np.int64, count=len(found))
        return ids[ids >= 0]

    def logits(self, ids: np.ndarray) -> np.ndarray:
        """Per-category decision values of one feature-id bag."""
        if ids.size == 0:
            return self.bias.copy()
        unique, counts = np.unique(ids, return_counts=True)
        values = (1.0 + np.log(counts)).astype(np.float32) * self.idf[unique]
        norm = float(np.sqrt(np.dot(values, values)))
        return (values / norm) @ self.weights[unique] + self.bias

    def scores(self, text: str) -> np.ndarray:
        """Per-category scores in [0, 1] of one text; 0.5 is the chosen operating point."""
        return sigmoid(self.logits(self.feature_ids(text)))

    def scores_many(self, texts: list[str]) -> np.ndarray:
        """(len(texts), categories) scores."""
        if not texts:
            return np.zeros((0, len(self.categories)), dtype=np.float32)
        return np.stack([self.scores(t) for t in texts])


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))


def logit(p: float) -> float:
    """The inverse of :func:`sigmoid` for a probability strictly between 0 and 1."""
    return math.log(p / (1.0 - p))
