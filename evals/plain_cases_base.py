"""The shape of a hand-written plain moderation case (``evals/plain_cases*.py``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class PlainCase:
    text: str
    categories: frozenset[str]
    lang: str

    @property
    def positive(self) -> bool:
        return bool(self.categories)


def load_cases(name: str) -> list[PlainCase]:
    """Cases from ``evals/data/NAME``: one JSON object a line, ``lang``, ``categories`` (a careful
    reviewer's; empty for benign) and ``text``."""
    rows = [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [PlainCase(r["text"], frozenset(r["categories"]), r["lang"]) for r in rows]
