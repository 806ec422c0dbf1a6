"""Detection layers, cheapest first. Each returns hits: (category, original span, score, layer)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import ahocorasick

from pipelines.policy.checksums import VALIDATORS
from pipelines.policy.config import Policy
from pipelines.policy.normalize import NormalizedText, compact_term, fold_char, is_latin


@dataclass(frozen=True)
class Hit:
    category: str
    start: int
    end: int
    score: float
    layer: str
    matched: str


class Detector(Protocol):
    name: str

    def detect(self, text: NormalizedText) -> list[Hit]: ...


class TermDetector:
    """All categories' terms in one Aho-Corasick automaton over the compact normalised text.

    A hit counts when the original span separates its letters exactly where the term does
    ("add wechat"), or puts a separator in *every* gap ("a d d w e c h a t"); "we chat" is
    ordinary text. Terms without Latin letters (Chinese) count with any separators ("微 信").
    A Latin term must not be flanked by Latin letters in the original ("class" has no "ass").
    """

    name = "terms"

    def __init__(self, policy: Policy) -> None:
        self.automaton = ahocorasick.Automaton()
        count = 0
        for category, spec in policy.categories.items():
            for term in spec.terms:
                key = compact_term(term)
                if not key:
                    continue
                entries = self.automaton.get(key, [])
                self.automaton.add_word(key, [*entries, (category, term, _term_gaps(term))])
                count += 1
        self.empty = count == 0
        if not self.empty:
            self.automaton.make_automaton()

    def detect(self, text: NormalizedText) -> list[Hit]:
        if self.empty or not text.compact:
            return []
        hits = []
        for end_index, entries in self.automaton.iter(text.compact):
            c_start, c_end = end_index - len(compact_term(entries[0][1])) + 1, end_index + 1
            start, end = text.span(c_start, c_end)
            if self._inside_latin_word(text.original, start, end):
                continue
            gaps = _gaps(text, c_start, c_end)
            for category, term, term_gaps in entries:
                if gaps == term_gaps or all(gaps) or not any(is_latin(ch) for ch in term):
                    hits.append(Hit(category, start, end, 1.0, self.name, text.original[start:end]))
        return hits

    @staticmethod
    def _inside_latin_word(original: str, start: int, end: int) -> bool:
        if not (is_latin(original[start]) or is_latin(original[end - 1])):
            return False
        before = original[start - 1] if start > 0 else ""
        after = original[end] if end < len(original) else ""
        return (is_latin(before) and is_latin(original[start])) or (is_latin(after) and is_latin(original[end - 1]))


def _gaps(text: NormalizedText, c_start: int, c_end: int) -> tuple[bool, ...]:
    """For each pair of adjacent matched characters: is there a visible separator between them?"""
    return tuple(
        any(fold_char(ch) for ch in text.original[text.origin[i] + 1 : text.origin[i + 1]])
        for i in range(c_start, c_end - 1)
    )


def _term_gaps(term: str) -> tuple[bool, ...]:
    normalized = NormalizedText.of(term)
    return _gaps(normalized, 0, len(normalized.compact))


class PatternDetector:
    """Regexes on the 1:1-folded text (full-width digits become ASCII), with checksum validators."""

    name = "patterns"

    def __init__(self, policy: Policy) -> None:
        self.patterns = [
            (category, re.compile(spec.regex, re.IGNORECASE), spec.validator)
            for category, cat in policy.categories.items()
            for spec in cat.patterns
        ]

    def detect(self, text: NormalizedText) -> list[Hit]:
        hits = []
        for category, regex, validator in self.patterns:
            for m in regex.finditer(text.folded):
                if validator and not VALIDATORS[validator](m.group(0)):
                    continue
                hits.append(Hit(category, m.start(), m.end(), 1.0, self.name, text.original[m.start() : m.end()]))
        return hits
