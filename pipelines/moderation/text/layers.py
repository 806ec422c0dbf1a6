"""Model-backed text layers of the policy engine, after the rule layers: a shipped classifier and
an optional guard model. Each turns its model's output into :class:`Hit` s in policy category names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from pipelines.moderation.images.screeners import ImageScreenConfig
from pipelines.moderation.text.detectors import DetectContext, Detector, Hit
from pipelines.moderation.text.guard import GuardConfig, GuardModel, GuardVerdict
from pipelines.moderation.text.normalize import NormalizedText

logger = logging.getLogger(__name__)

# Sentence ends (Latin and CJK) and line breaks: the classifier scores each sentence, so one abusive
# sentence in a long answer is not diluted, and its span can be redacted.
_SENTENCE = re.compile(r"[^\s.!?。！？][^.!?。！？\n]*[.!?。！？]*")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProfanityConfig(_Strict):
    enabled: bool = Field(True, description="Score English abuse with alt-profanity-check's shipped model.")
    category: str = Field("hate/harassment", description="Policy category its probability is reported under.")
    max_sentences: int = Field(
        256, gt=0, description="Sentences scored one by one; beyond this the rest is scored as one piece."
    )


class GuardLayerConfig(_Strict):
    model: GuardConfig = Field(description="The Qwen3Guard-Gen checkpoint and how to read its verdicts.")
    unavailable_category: str = Field(
        "guard_unavailable",
        description="Policy category hit (score 1) when the guard errors or its answer cannot be parsed. "
        "Its action in the policy file is the fail mode: `flag` fails open (allow and flag), `block` "
        "fails closed.",
    )


class LayersConfig(_Strict):
    """The layers beyond terms and patterns, cheapest first; part of the PolicyFilter's ``user_config``."""

    profanity: ProfanityConfig = Field(default_factory=ProfanityConfig)
    guard: GuardLayerConfig | None = Field(None, description="The optional guard model; null turns it off.")
    image: ImageScreenConfig = Field(default_factory=lambda: ImageScreenConfig())


class ProfanityLayer:
    """``alt-profanity-check``: a linear SVM over character n-grams, trained on English abuse, shipped
    as a pickled model inside the wheel (no download). Scores are its calibrated probabilities."""

    name = "profanity"
    cost = "cheap"  # microseconds per sentence: may screen every streamed delta

    def __init__(self, config: ProfanityConfig) -> None:
        from profanity_check import predict_prob  # imported lazily: it loads a scikit-learn model

        self.config = config
        self._predict_prob: Callable[[list[str]], Sequence[float]] = predict_prob

    def detect(self, text: NormalizedText, context: DetectContext) -> list[Hit]:
        spans = sentence_spans(text.original, self.config.max_sentences)
        if not spans:
            return []
        pieces = [text.original[start:end] for start, end in spans]
        probabilities = self._predict_prob(pieces)
        return [
            Hit(self.config.category, start, end, float(p), self.name, "")
            for (start, end), p in zip(spans, probabilities, strict=True)
        ]


def sentence_spans(text: str, limit: int) -> list[tuple[int, int]]:
    """[start, end) of each sentence with letters in it; the sentences past ``limit`` become one span."""
    spans = [(m.start(), m.end()) for m in _SENTENCE.finditer(text) if any(ch.isalpha() for ch in m.group())]
    if len(spans) > limit:
        spans = [*spans[: limit - 1], (spans[limit - 1][0], spans[-1][1])]
    return spans


class GuardLayer:
    """Qwen3Guard-Gen as a layer: its verdict's categories become whole-text hits.

    A failure (exception, unparseable answer) never passes silently as safe: it becomes a hit on
    ``unavailable_category``, whose action in the policy is the fail mode.
    """

    name = "guard"
    cost = "model"  # one generation per check: final decisions only

    def __init__(self, config: GuardLayerConfig, model: GuardModel | None = None) -> None:
        self.config = config
        self.model = model if model is not None else GuardModel(config.model)
        self.failures = 0
        self.on_latency: Callable[[float], None] | None = None  # e.g. a metrics histogram
        self.on_failure: Callable[[], None] | None = None  # e.g. a metrics counter

    def detect(self, text: NormalizedText, context: DetectContext) -> list[Hit]:
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


def verdict_hits(verdict: GuardVerdict, layer: str) -> list[Hit]:
    return [Hit(category, 0, 0, verdict.scores.get(category, 0.0), layer, "") for category in verdict.categories]


def build_text_layers(config: LayersConfig) -> list[Detector]:
    """The configured layers in cost order: the classifier (microseconds), then the guard model."""
    layers: list[Detector] = []
    if config.profanity.enabled:
        layers.append(ProfanityLayer(config.profanity))
    if config.guard is not None:
        layers.append(GuardLayer(config.guard))
    return layers
