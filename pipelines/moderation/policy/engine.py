"""Applies a policy to a text: runs the detection layers, then each category's action.

Decisions:

* Only hits at or above a category's threshold count: they make it fire, give its spans and are
  what redaction replaces. ``score`` is the best hit's score either way.
* A category whose action is ``redact`` but that fired on a whole-text hit (a classifier verdict,
  ``start == end``) cannot be redacted span by span, so it is blocked instead (fail closed).
* Reported spans are capped at ``policy.max_reported_spans`` per category; redaction uses all.
* Spans carry the layer that found them, never the matched text, so a decision on a redacted
  output does not hand the redacted PII back to the client.
* Cheap first: an extra layer is skipped once the hits so far already block, and a layer with a
  ``wants(hits)`` method (the cascade-gated guard model) runs only when it answers true for the hits
  of the layers before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, get_args, runtime_checkable

from pipelines.moderation.policy.config import Action, CategoryPolicy, Direction, Policy
from pipelines.moderation.text.detectors import DetectContext, Detector, Hit, PatternDetector, TermDetector
from pipelines.moderation.text.normalize import NormalizedText

_DIRECTIONS: frozenset[str] = frozenset(get_args(Direction))


@runtime_checkable
class GatedDetector(Protocol):
    """A layer that decides from the cheaper layers' hits whether it is needed for this text."""

    def wants(self, hits: Sequence[Hit]) -> bool: ...


@dataclass
class CategoryResult:
    filtered: bool  # fired, and its action changed the content (block or redact)
    detected: bool  # score reached the category's threshold
    score: float
    action: str  # the action taken for this category ("allow" when not detected)
    spans: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, layer) in the original
    layers: list[str] = field(default_factory=list)  # the layers whose hits counted (span or whole-text)


@dataclass
class PolicyDecision:
    policy_version: str
    direction: Direction
    action: str  # strongest action taken: block > redact > flag > allow
    blocked: bool
    text: str  # what may be returned: the original, a redacted copy, or the block message
    categories: dict[str, CategoryResult]
    # digest of everything that decided (policy file, extra terms, layers, thresholds); set by the
    # Moderator. The version alone misses run-time changes: the response cache keys on this.
    policy_digest: str = ""
    # what redaction replaced: merged [start, end) spans of the checked text, each by ``placeholder``
    # (an input's redaction is applied to the request's own parts, so the model sees it too)
    redactions: list[tuple[int, int]] = field(default_factory=list)
    placeholder: str = ""
    # False when layers that call a model were skipped (a stream's cheap intermediate screen)
    all_layers: bool = True

    @property
    def fired(self) -> list[str]:
        return [name for name, result in self.categories.items() if result.detected]


class PolicyEngine:
    """Compiled once per policy version; ``check`` is pure and thread-safe.

    ``extra_layers`` (classifiers, a guard model) run after the rule layers, in the order given:
    pass them cheapest first.
    """

    def __init__(self, policy: Policy, extra_layers: list[Detector] | None = None) -> None:
        self.policy = policy
        self.rule_layers: list[Detector] = [TermDetector(policy), PatternDetector(policy)]
        self.extra_layers: list[Detector] = list(extra_layers or [])
        self.layers: list[Detector] = [*self.rule_layers, *self.extra_layers]

    def detect(self, text: str, direction: Direction | None = None, prompt: str | None = None) -> list[Hit]:
        """All layers' hits. The cheap rule layers always all run, so every rule hit is reported; with a
        ``direction``, the extra layers are skipped once the hits so far already block; a gated layer
        runs only when it ``wants`` the hits so far."""
        normalized = NormalizedText.of(text, self.policy.scan.max_chars)
        context = DetectContext(direction, prompt)
        hits = [hit for layer in self.rule_layers for hit in self._detect(layer, normalized, context)]
        for layer in self.extra_layers:
            if direction is not None and self._any_blocks(hits, direction):
                break
            if isinstance(layer, GatedDetector) and not layer.wants(hits):
                continue
            hits += self._detect(layer, normalized, context)
        return hits

    def _detect(self, layer: Detector, normalized: NormalizedText, context: DetectContext) -> list[Hit]:
        return [hit for hit in layer.detect(normalized, context) if hit.category in self.policy.categories]

    def check(self, text: str, direction: Direction, prompt: str | None = None) -> PolicyDecision:
        """``prompt``: for an output, the user text it answers (used by context-aware layers)."""
        _check_direction(direction)
        return self.decide(text, direction, self.detect(text, direction, prompt))

    def decide(self, text: str, direction: Direction, hits: list[Hit]) -> PolicyDecision:
        """Turn hits (from the text layers and any others, e.g. image screening) into a decision."""
        _check_direction(direction)
        results: dict[str, CategoryResult] = {}
        strongest = Action.allow
        redact_spans: list[tuple[int, int]] = []
        for name, spec in self.policy.categories.items():
            own = [h for h in hits if h.category == name]
            counted = [h for h in own if h.score >= spec.threshold]
            spans = sorted({(h.start, h.end, h.layer) for h in counted if h.end > h.start})
            action = _category_action(spec, direction, counted)
            results[name] = CategoryResult(
                filtered=action in (Action.block, Action.redact),
                detected=bool(counted),
                score=max((h.score for h in own), default=0.0),
                action=action.value,
                spans=spans[: self.policy.max_reported_spans],
                layers=sorted({h.layer for h in counted}),
            )
            if action.severity > strongest.severity:
                strongest = action
            if action == Action.redact:
                redact_spans += [(start, end) for start, end, _ in spans]
        blocked = strongest == Action.block
        merged = [] if blocked else merge_spans(redact_spans)
        out = self.policy.block_message if blocked else redact(text, merged, self.policy.redaction_placeholder)
        return PolicyDecision(
            self.policy.version,
            direction,
            strongest.value,
            blocked,
            out,
            results,
            redactions=merged,
            placeholder=self.policy.redaction_placeholder if merged else "",
        )

    def _any_blocks(self, hits: list[Hit], direction: Direction) -> bool:
        for hit in hits:
            spec = self.policy.categories[hit.category]
            if hit.score >= spec.threshold and spec.action(direction) == Action.block:
                return True
        return False


def _category_action(spec: CategoryPolicy, direction: Direction, counted: list[Hit]) -> Action:
    if not counted:
        return Action.allow
    action = spec.action(direction)
    if action == Action.redact and any(h.end <= h.start for h in counted):
        return Action.block  # a whole-text hit has no span to redact
    return action


def _check_direction(direction: str) -> None:
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction must be one of {sorted(_DIRECTIONS)}, not {direction!r}")


def merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, overlapping or touching spans joined."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def redact(text: str, spans: list[tuple[int, int]], placeholder: str) -> str:
    out, cursor = [], 0
    for start, end in merge_spans(spans):
        out += [text[cursor:start], placeholder]
        cursor = end
    out.append(text[cursor:])
    return "".join(out)
