"""Applies a policy to a text: runs the detection layers, then each category's action."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.policy.config import Action, Direction, Policy
from pipelines.policy.detectors import Detector, Hit, PatternDetector, TermDetector
from pipelines.policy.normalize import NormalizedText


@dataclass
class CategoryResult:
    filtered: bool  # fired, and its action changed the content (block or redact)
    detected: bool  # score reached the category's threshold
    score: float
    action: str  # the action taken for this category ("allow" when not detected)
    spans: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, layer) in the text


@dataclass
class PolicyDecision:
    policy_version: str
    direction: Direction
    action: str  # strongest action taken: block > redact > flag > allow
    blocked: bool
    text: str  # what may be returned: the original, a redacted copy, or the block message
    categories: dict[str, CategoryResult]

    @property
    def fired(self) -> list[str]:
        return [name for name, result in self.categories.items() if result.detected]


class PolicyEngine:
    """Compiled once per policy version; ``check`` is pure and thread-safe."""

    def __init__(self, policy: Policy, extra_layers: list[Detector] | None = None) -> None:
        self.policy = policy
        self.layers: list[Detector] = [TermDetector(policy), PatternDetector(policy), *(extra_layers or [])]

    def detect(self, text: str) -> list[Hit]:
        normalized = NormalizedText.of(text)
        return [
            hit for layer in self.layers for hit in layer.detect(normalized) if hit.category in self.policy.categories
        ]

    def check(self, text: str, direction: Direction) -> PolicyDecision:
        return self.decide(text, direction, self.detect(text))

    def decide(self, text: str, direction: Direction, hits: list[Hit]) -> PolicyDecision:
        """Turn hits (from the text layers and any others, e.g. image screening) into a decision."""
        results: dict[str, CategoryResult] = {}
        strongest = Action.allow
        redact_spans: list[tuple[int, int]] = []
        for name, spec in self.policy.categories.items():
            own = [h for h in hits if h.category == name]
            score = max((h.score for h in own), default=0.0)
            detected = bool(own) and score >= spec.threshold
            action = spec.action(direction) if detected else Action.allow
            results[name] = CategoryResult(
                filtered=action in (Action.block, Action.redact),
                detected=detected,
                score=score,
                action=action.value,
                spans=[(h.start, h.end, h.layer) for h in own if h.end > h.start],
            )
            if action.severity > strongest.severity:
                strongest = action
            if action == Action.redact:
                redact_spans += [(h.start, h.end) for h in own if h.end > h.start]
        blocked = strongest == Action.block
        if blocked:
            out = self.policy.block_message
        elif redact_spans:
            out = redact(text, redact_spans, self.policy.redaction_placeholder)
        else:
            out = text
        return PolicyDecision(self.policy.version, direction, strongest.value, blocked, out, results)


def redact(text: str, spans: list[tuple[int, int]], placeholder: str) -> str:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, cursor = [], 0
    for start, end in merged:
        out += [text[cursor:start], placeholder]
        cursor = end
    out.append(text[cursor:])
    return "".join(out)
