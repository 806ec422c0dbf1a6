"""The shape of a hand-written plain moderation case (``evals/plain_cases*.py``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlainCase:
    text: str
    categories: frozenset[str]
    lang: str

    @property
    def positive(self) -> bool:
        return bool(self.categories)
