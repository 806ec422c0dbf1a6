"""What an item of the labelled set is: its text, categories, language and kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from evals.categories import POLICY_CATEGORIES

Language = Literal["en", "zh"]

RULE_CATEGORIES: tuple[str, ...] = POLICY_CATEGORIES
POSITIVE_KINDS = frozenset({"plain", "paraphrase", "evasion"})
CLEAN_KINDS = frozenset({"benign", "benign_lookalike"})  # must fire none of their `must_not_fire` categories
SEED = 20261125


@dataclass(frozen=True)
class LabelledText:
    text: str
    categories: frozenset[str]  # the policy categories the text belongs to; empty for a clean text
    language: Language
    kind: str
    must_not_fire: frozenset[str] = frozenset()  # for clean kinds: the rule categories it must not trip
