"""Model-backed text layers of the policy engine, after the rule layers: the shipped classifier and
an optional guard model. Each turns its model's output into :class:`Hit` s in policy category names.

Decisions:

* The default classifier is the project's own zh+en model (``classifier/``). ``alt-profanity-check``
  (English only) adds breadth on English abuse, which the corpus is thin on; it scores profanity as
  abuse whatever it is aimed at, so a sentence counts only when it is aimed at someone.
* Cheap first: with a classifier on, the guard model is asked only about texts whose classifier score
  falls in the cascade's uncertain band (``GuardLayerConfig.cascade``). Below it the CPU layers call
  the text clean, above it they have already decided; one generation per uncertain text only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipelines.moderation.images.screeners import ImageScreenConfig
from pipelines.moderation.policy.config import compile_linear
from pipelines.moderation.text.classifier.layer import ClassifierConfig, ClassifierLayer
from pipelines.moderation.text.classifier.model import logit, sigmoid
from pipelines.moderation.text.detectors import DetectContext, Detector, Hit
from pipelines.moderation.text.guard import GuardConfig, GuardModel, GuardVerdict
from pipelines.moderation.text.normalize import NormalizedText
from pipelines.moderation.text.sentences import sentence_spans

logger = logging.getLogger(__name__)

__all__ = [
    "CascadeConfig",
    "ClassifierConfig",
    "ClassifierLayer",
    "GuardLayer",
    "GuardLayerConfig",
    "LayersConfig",
    "ProfanityConfig",
    "ProfanityLayer",
    "build_text_layers",
    "in_band",
    "sentence_spans",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Who a sentence can be aimed at: the person addressed, a third person, a group. Without one of these,
# profanity is an exclamation ("Fuck, that was tough."), not abuse.
DEFAULT_TARGET_PATTERN = (
    r"\b(?:you|u|ur|your|yours|you're|youre|yourself|yourselves|ya|yall|y'all|thou|he|him|his|himself|she|her|"
    r"hers|herself|they|them|their|themselves|this guy|that guy|these people|those people|people like)\b"
)


class ProfanityConfig(_Strict):
    enabled: bool = Field(
        True,
        description="Score English abuse with alt-profanity-check's shipped model, one sentence at a time, "
        "counting only sentences aimed at someone (`require_target`).",
    )
    category: str = Field("hate/harassment", description="Policy category its probability is reported under.")
    max_sentences: int = Field(
        256, gt=0, description="Sentences scored one by one; beyond this the rest is scored as one piece."
    )
    require_target: bool = Field(
        True,
        description="Report a sentence only when `target_pattern` finds someone it is aimed at: profanity "
        "without a target is not harassment.",
    )
    target_pattern: str = Field(
        DEFAULT_TARGET_PATTERN,
        min_length=1,
        description="RE2 regex (case-insensitive) of the words that make a sentence aimed at a person or group.",
    )
    operating_point: float = Field(
        0.5,
        gt=0.0,
        lt=1.0,
        description="The model's probability that scores 0.5, the policy's default threshold (chosen on the "
        "classifier's English validation rows: `python -m devtools.profanity_calibration`).",
    )

    @field_validator("target_pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        compile_linear(pattern)
        return pattern


class CascadeConfig(_Strict):
    """Which texts the guard model is asked about, by the cheap classifier's highest score."""

    enabled: bool = Field(
        True,
        description="Ask the guard only when the classifier's highest score is in [low, high); off: ask about "
        "every text the cheaper layers did not already block. Without a classifier layer the guard is always asked.",
    )
    low: float = Field(0.2, ge=0.0, le=1.0, description="Below this the classifier's verdict (clean) stands.")
    high: float = Field(0.8, ge=0.0, le=1.0, description="At or above this the classifier's verdict (flagged) stands.")
    source_layer: str = Field("classifier", description="Layer whose hits' scores decide (its `name`).")

    @model_validator(mode="after")
    def _ordered(self) -> CascadeConfig:
        if self.low > self.high:
            raise ValueError(f"cascade band [{self.low}, {self.high}) is empty: low must not exceed high")
        return self


class GuardLayerConfig(_Strict):
    model: GuardConfig = Field(description="The Qwen3Guard-Gen checkpoint and how to read its verdicts.")
    cascade: CascadeConfig = Field(default_factory=CascadeConfig, description="Cheap-first gating of the guard.")
    unavailable_category: str = Field(
        "guard_unavailable",
        description="Policy category hit (score 1) when the guard errors or its answer cannot be parsed. "
        "Its action in the policy file is the fail mode: `flag` fails open (allow and flag), `block` "
        "fails closed.",
    )


class LayersConfig(_Strict):
    """The layers beyond terms and patterns, cheapest first; part of the PolicyFilter's ``user_config``."""

    classifier: ClassifierConfig = Field(
        default_factory=ClassifierConfig, description="The shipped zh+en moderation classifier."
    )
    profanity: ProfanityConfig = Field(default_factory=ProfanityConfig)
    guard: GuardLayerConfig | None = Field(None, description="The optional guard model; null turns it off.")
    image: ImageScreenConfig = Field(default_factory=lambda: ImageScreenConfig())

    @model_validator(mode="after")
    def _band_above_floor(self) -> LayersConfig:
        """A classifier score under its report floor is never seen, so a band below the floor would never
        ask the guard about texts it means to."""
        guard = self.guard
        if (
            guard is not None
            and guard.cascade.enabled
            and self.classifier.enabled
            and guard.cascade.source_layer == ClassifierLayer.name
            and guard.cascade.low < self.classifier.report_floor
        ):
            raise ValueError(
                f"guard.cascade.low ({guard.cascade.low}) is below classifier.report_floor "
                f"({self.classifier.report_floor})"
            )
        return self


class ProfanityLayer:
    """``alt-profanity-check``: a linear SVM over character n-grams, trained on English abuse, shipped
    as a pickled model inside the wheel (no download). It reads profanity as abuse whatever it is aimed at,
    so only sentences aimed at someone are reported (``require_target``); scores are its calibrated
    probabilities moved so that ``operating_point`` scores 0.5."""

    name = "profanity"
    cost = "cheap"  # microseconds per sentence: may screen every streamed delta

    def __init__(self, config: ProfanityConfig) -> None:
        from profanity_check import predict_prob  # imported lazily: it loads a scikit-learn model

        self.config = config
        self._predict_prob: Callable[[list[str]], Sequence[float]] = predict_prob
        self._target = compile_linear(config.target_pattern) if config.require_target else None
        self._shift = -logit(config.operating_point)

    def detect(self, text: NormalizedText, context: DetectContext) -> list[Hit]:
        spans = sentence_spans(text.original, self.config.max_sentences)
        pieces = [(start, end, text.original[start:end]) for start, end in spans]
        if self._target is not None:
            pieces = [piece for piece in pieces if self._target.search(piece[2]) is not None]
        if not pieces:
            return []
        probabilities = self._predict_prob([piece for _, _, piece in pieces])
        return [
            Hit(self.config.category, start, end, self._score(float(p)), self.name, "")
            for (start, end, _), p in zip(pieces, probabilities, strict=True)
        ]

    def _score(self, probability: float) -> float:
        """The probability moved so that ``operating_point`` reads 0.5 (the model's 0 and 1 kept finite)."""
        return float(sigmoid(np.float64(logit(min(max(probability, 1e-6), 1.0 - 1e-6)) + self._shift)))


class GuardLayer:
    """Qwen3Guard-Gen as a layer: its verdict's categories become whole-text hits.

    A failure (exception, unparseable answer) never passes silently as safe: it becomes a hit on
    ``unavailable_category``, whose action in the policy is the fail mode.

    ``gated``: whether the cascade band applies (``build_text_layers`` sets it when a classifier
    layer runs before this one). The engine asks :meth:`wants` before calling :meth:`detect`.
    """

    name = "guard"
    cost = "model"  # one generation per check: final decisions only

    def __init__(self, config: GuardLayerConfig, model: GuardModel | None = None, *, gated: bool = False) -> None:
        self.config = config
        self.model = model if model is not None else GuardModel(config.model)
        self.gated = gated and config.cascade.enabled
        self.failures = 0
        self.asked = 0  # texts the guard was asked about
        self.skipped = 0  # texts the cascade decided without it
        self.on_latency: Callable[[float], None] | None = None  # e.g. a metrics histogram
        self.on_failure: Callable[[], None] | None = None  # e.g. a metrics counter

    def wants(self, hits: Sequence[Hit]) -> bool:
        """Whether this text needs the guard (the engine asks before ``detect``); counts the skips."""
        if not self.gated or in_band(hits, self.config.cascade):
            return True
        self.skipped += 1
        return False

    def detect(self, text: NormalizedText, context: DetectContext) -> list[Hit]:
        self.asked += 1
        direction = context.direction or "input"
        prompts = [context.prompt] if direction == "output" and context.prompt is not None else None
        try:
            verdict = self.model.classify([text.original], direction, prompts)[0]
        except Exception as exc:  # noqa: BLE001 - any model failure is an outage, handled by the fail mode
            logger.error("guard model failed: %s: %s", type(exc).__name__, exc)
            return [self._unavailable()]
        if self.on_latency is not None and verdict.latency_s is not None:
            self.on_latency(verdict.latency_s)
        if not verdict.parsed:
            logger.warning("guard answer unparseable: %r", verdict.raw_text[:200])
            return [self._unavailable()]
        return verdict_hits(verdict, self.name)

    def _unavailable(self) -> Hit:
        self.failures += 1
        if self.on_failure is not None:
            self.on_failure()
        return Hit(self.config.unavailable_category, 0, 0, 1.0, self.name, "")


def in_band(hits: Sequence[Hit], band: CascadeConfig) -> bool:
    """The cascade's test: is the source layer's highest score (0 without hits) in [low, high)?"""
    top = max((h.score for h in hits if h.layer == band.source_layer), default=0.0)
    return band.low <= top < band.high


def verdict_hits(verdict: GuardVerdict, layer: str) -> list[Hit]:
    return [Hit(category, 0, 0, verdict.scores.get(category, 0.0), layer, "") for category in verdict.categories]


def build_text_layers(config: LayersConfig) -> list[Detector]:
    """The configured layers in cost order: the classifiers (about a millisecond), then the guard model,
    gated by the cascade band when the classifier runs before it."""
    layers: list[Detector] = []
    if config.classifier.enabled:
        layers.append(ClassifierLayer(config.classifier))
    if config.profanity.enabled:
        layers.append(ProfanityLayer(config.profanity))
    if config.guard is not None:
        source = config.guard.cascade.source_layer
        gated = any(layer.name == source for layer in layers)
        if config.guard.cascade.enabled and not gated:
            logger.warning("guard cascade: no %r layer runs before the guard, so it is asked about every text", source)
        layers.append(GuardLayer(config.guard, gated=gated))
    return layers
