"""The policy file's schema (`configs/policy.yaml`), strict so a typo fails the load."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

Direction = Literal["input", "output"]


class Action(StrEnum):
    """Ordered by severity: the strongest action among fired categories wins."""

    allow = "allow"
    flag = "flag"
    redact = "redact"
    block = "block"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {Action.allow: 0, Action.flag: 1, Action.redact: 2, Action.block: 3}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PatternSpec(_Strict):
    regex: str = Field(description="Python regular expression, matched case-insensitively.")
    validator: Literal["luhn", "cn_resident_id"] | None = Field(
        None, description="Checksum a match must pass to count (bank cards: luhn; Chinese ID: cn_resident_id)."
    )


class CategoryPolicy(_Strict):
    description: str = Field("", description="What the category covers, for reviewers.")
    terms: list[str] = Field(default_factory=list, description="Literal terms (any language), matched normalised.")
    patterns: list[PatternSpec] = Field(default_factory=list, description="Regex detectors with optional checksum.")
    input: Action = Field(Action.flag, description="Action when the category fires on a user's input.")
    output: Action = Field(Action.flag, description="Action when the category fires on the model's output.")
    threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="Score at or above which the category fires (term/pattern hits score 1)."
    )

    def action(self, direction: Direction) -> Action:
        return self.input if direction == "input" else self.output


class Policy(_Strict):
    version: str = Field(description="Recorded on every decision.")
    block_message: str = Field(description="Neutral text that replaces blocked content.")
    redaction_placeholder: str = Field("[REDACTED]", description="Replaces each redacted span.")
    categories: dict[str, CategoryPolicy] = Field(description="Category name -> its detectors and actions.")

    def with_extra_terms(self, category: str, terms: list[str]) -> Policy:
        """A copy with customer terms added to one category (run-time `extra_terms`)."""
        if category not in self.categories:
            raise ValueError(f"unknown policy category {category!r}")
        current = self.categories[category]
        updated = current.model_copy(update={"terms": [*current.terms, *terms]})
        return self.model_copy(update={"categories": {**self.categories, category: updated}})


def load_policy(path: str | Path) -> Policy:
    return Policy.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
