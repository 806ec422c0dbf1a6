"""The policy file's schema (`configs/policy.yaml`), strict so a typo fails the load."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipelines.moderation.text.normalize import compact_term

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
    """In YAML either a mapping or a bare regex string (shorthand for ``{regex: ...}``)."""

    regex: str = Field(
        description="Python regular expression, matched case-insensitively on the NFKC-folded text "
        "(full-width forms already ASCII, zero-width characters removed)."
    )
    validator: Literal["luhn", "cn_resident_id"] | None = Field(
        None,
        description="Checksum a match must pass to count (bank cards: luhn; Chinese ID: cn_resident_id).",
    )

    @field_validator("regex")
    @classmethod
    def _compiles_and_needs_text(cls, value: str) -> str:
        try:
            compiled = re.compile(value, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"invalid regex {value!r}: {exc}") from exc
        if compiled.fullmatch(""):
            raise ValueError(f"regex {value!r} matches the empty string")
        return value


class CategoryPolicy(_Strict):
    description: str = Field("", description="What the category covers, for reviewers.")
    terms: list[str] = Field(
        default_factory=list, description="Literal terms (any language), matched normalised (normalize.py)."
    )
    patterns: list[PatternSpec] = Field(
        default_factory=list, description="Regex detectors, optionally checksummed; a bare string is a regex."
    )
    input: Action = Field(Action.flag, description="Action when the category fires on a user's input.")
    output: Action = Field(Action.flag, description="Action when the category fires on the model's output.")
    threshold: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Score at or above which the category fires (term/pattern hits score 1, so any threshold "
        "fires on them; fractional thresholds matter for classifier layers). A category needs a hit to fire.",
    )

    @field_validator("terms")
    @classmethod
    def _terms_match_something(cls, terms: list[str]) -> list[str]:
        for term in terms:
            if not compact_term(term):
                raise ValueError(f"term {term!r} has no letters or digits, so it can never match")
        return list(dict.fromkeys(terms))

    @field_validator("patterns", mode="before")
    @classmethod
    def _bare_regex_shorthand(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"regex": item} if isinstance(item, str) else item for item in value]
        return value

    def action(self, direction: Direction) -> Action:
        return self.input if direction == "input" else self.output


_CATEGORY_NAME = re.compile(r"[a-z0-9][a-z0-9_/\-]*")


class Policy(_Strict):
    version: str = Field(min_length=1, description="Recorded on every decision; change it with every edit.")
    block_message: str = Field(min_length=1, description="Neutral text that replaces blocked content.")
    redaction_placeholder: str = Field(
        "[REDACTED]", description="Replaces each redacted span (overlapping spans are merged first)."
    )
    max_reported_spans: int = Field(
        20,
        gt=0,
        description="Most spans reported per category in a decision (keeps decisions small); "
        "redaction still covers every span.",
    )
    audit_keep_content: bool = Field(
        False, description="Store the moderated text itself in the audit log (otherwise only its SHA-256)."
    )
    categories: dict[str, CategoryPolicy] = Field(
        min_length=1,
        description="Category name (lower case, e.g. `sexual/minors`) -> its detectors and actions.",
    )

    @field_validator("categories")
    @classmethod
    def _category_names(cls, categories: dict[str, CategoryPolicy]) -> dict[str, CategoryPolicy]:
        for name in categories:
            if not _CATEGORY_NAME.fullmatch(name):
                raise ValueError(f"category name {name!r}: use lower case letters, digits, '_', '-' or '/'")
        return categories

    def with_extra_terms(self, category: str, terms: Iterable[str]) -> Policy:
        """A validated copy with customer terms added to one category (run-time `extra_terms`)."""
        if category not in self.categories:
            raise ValueError(f"unknown policy category {category!r}")
        data = self.model_dump()
        data["categories"][category]["terms"] = [*data["categories"][category]["terms"], *terms]
        return Policy.model_validate(data)


def load_policy(path: str | Path) -> Policy:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a policy file must be a YAML mapping")
    return Policy.model_validate(data)
