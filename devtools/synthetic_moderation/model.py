"""What the generator is made of: a family of templates with one label set, a word pool, a written text."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

Slot = tuple[str, ...] | Callable[[random.Random], str]


@dataclass(frozen=True)
class Family:
    name: str
    lang: str  # en | zh
    labels: frozenset[str]  # policy categories; empty for benign
    templates: tuple[str, ...]
    count: int
    holdout: bool = False  # never trained on: validation of unseen phrasings
    held_templates: int = 0  # the last N templates form a never-trained sub-family "<name>_held"

    def split(self) -> tuple[Family, ...]:
        """The family itself, or its trained part and its held-out part (``held_templates``)."""
        if not self.held_templates:
            return (self,)
        cut = len(self.templates) - self.held_templates
        share = max(1, round(self.count * self.held_templates / len(self.templates)))
        trained = Family(self.name, self.lang, self.labels, self.templates[:cut], self.count - share, self.holdout)
        held = Family(f"{self.name}_held", self.lang, self.labels, self.templates[cut:], share, holdout=True)
        return trained, held


@dataclass(frozen=True)
class SyntheticText:
    text: str
    lang: str
    labels: frozenset[str]
    family: str
    holdout: bool
