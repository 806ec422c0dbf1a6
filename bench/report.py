"""What the benchmarks share: binary counts and their metrics, plain-text tables, the shipped engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipelines.moderation.policy.config import Direction, load_policy
from pipelines.moderation.policy.engine import PolicyEngine
from pipelines.moderation.text.layers import LayersConfig, build_text_layers

ROOT = Path(__file__).resolve().parent.parent
POLICY_FILE = ROOT / "configs" / "policy.yaml"


@dataclass(frozen=True)
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @classmethod
    def of(cls, truth: Sequence[bool], predicted: Sequence[bool]) -> Counts:
        pairs = list(zip(truth, predicted, strict=True))
        return cls(
            sum(t and p for t, p in pairs),
            sum(p and not t for t, p in pairs),
            sum(t and not p for t, p in pairs),
            sum(not t and not p for t, p in pairs),
        )

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def fpr(self) -> float:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    def row(self) -> list[object]:
        return [self.tp + self.fn, self.precision, self.recall, self.f1, self.fpr, self.tp, self.fp, self.fn]


COUNT_HEADERS = ["pos", "P", "R", "F1", "FPR", "tp", "fp", "fn"]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], left: int = 1) -> str:
    """A plain-text table; the first ``left`` columns are left-aligned, the rest right-aligned."""
    cells = [[str(h) for h in headers], *[[fmt(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def section(title: str) -> None:
    print(f"\n## {title}\n", flush=True)


def shipped_engine(policy_file: Path = POLICY_FILE) -> PolicyEngine:
    """The shipped policy with the shipped CPU layers (what `/v1/moderations` runs without a guard)."""
    return PolicyEngine(load_policy(policy_file), build_text_layers(LayersConfig()))


def fired(engine: PolicyEngine, texts: Sequence[str], direction: Direction = "input") -> list[set[str]]:
    return [set(engine.check(text, direction).fired) for text in texts]


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
