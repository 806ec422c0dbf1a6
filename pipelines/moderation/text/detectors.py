"""Detection layers, cheapest first. Each returns hits: (category, original span, score, layer)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import ahocorasick

from pipelines.moderation.policy.config import Direction, Policy
from pipelines.moderation.text.checksums import VALIDATORS
from pipelines.moderation.text.normalize import NormalizedText, compact_term, is_invisible, is_latin

RULE_SCORE = 1.0  # a term or pattern hit is certain; classifier layers report probabilities


@dataclass(frozen=True)
class Hit:
    category: str
    start: int
    end: int
    score: float
    layer: str
    matched: str


@dataclass(frozen=True)
class DetectContext:
    """What a layer may need beyond the text: the direction, and for an output the prompt it answers
    (a guard model judges a response in the light of its prompt)."""

    direction: Direction | None = None
    prompt: str | None = None


class Detector(Protocol):
    """One detection layer. The engine runs its layers in order, cheapest first (rules, then
    classifiers, then a guard model), and stops early once a cheaper layer has decided a block.

    ``detect`` returns hits in policy category names; a hit with ``start == end`` is about the
    whole text (a classifier verdict) rather than a span of it.
    """

    name: str

    def detect(self, text: NormalizedText, context: DetectContext) -> list[Hit]: ...


_TermEntry = tuple[str, tuple[tuple[int, ...], ...]]  # (category, the term's word runs; see _word_runs)


class TermDetector:
    """All categories' terms in one Aho-Corasick automaton over the compact normalised text.

    Separators may be added or dropped anywhere except inside a Latin word of the term, which must
    appear either intact or spaced out letter by letter: "add wechat", "addwechat", "add w e c h a t"
    and "a.d.d w.e.c.h.a.t" hit "add wechat", "add we chat" does not (it is ordinary text). Chinese
    and mixed terms accept any separators between non-Latin characters ("加 微 信", "加 vx").
    A Latin term must not be flanked by Latin letters in the original ("class" has no "ass").
    """

    name = "terms"

    def __init__(self, policy: Policy) -> None:
        entries: dict[str, list[_TermEntry]] = {}
        for category, spec in policy.categories.items():
            for term in spec.terms:
                key = compact_term(term)
                if key:
                    entries.setdefault(key, []).append((category, _word_runs(term)))
        self.automaton = ahocorasick.Automaton()
        for key, found in entries.items():
            self.automaton.add_word(key, (len(key), tuple(found)))
        self.empty = not entries
        if not self.empty:
            self.automaton.make_automaton()

    def detect(self, text: NormalizedText, context: DetectContext) -> list[Hit]:
        if self.empty or not text.compact:
            return []
        hits = []
        for end_index, (length, entries) in self.automaton.iter(text.compact):
            c_start, c_end = end_index - length + 1, end_index + 1
            if _inside_latin_word(text, c_start, c_end):
                continue
            start, end = text.span(c_start, c_end)
            gaps = _gaps(text, c_start, c_end)
            for category, runs in entries:
                if all(len({gaps[i] for i in run}) == 1 for run in runs):
                    hits.append(Hit(category, start, end, RULE_SCORE, self.name, text.original[start:end]))
        return hits


def _inside_latin_word(text: NormalizedText, c_start: int, c_end: int) -> bool:
    first, last = text.origin[c_start], text.origin[c_end - 1]
    return (is_latin(text.original[first]) and is_latin(text.neighbour(first - 1, -1))) or (
        is_latin(text.original[last]) and is_latin(text.neighbour(last + 1, 1))
    )


def _gaps(text: NormalizedText, c_start: int, c_end: int) -> tuple[bool, ...]:
    """For each pair of adjacent matched characters: is there a visible separator between them?"""
    return tuple(
        any(not is_invisible(ch) for ch in text.original[text.origin[i] + 1 : text.origin[i + 1]])
        for i in range(c_start, c_end - 1)
    )


def _word_runs(term: str) -> tuple[tuple[int, ...], ...]:
    """Gap indices of the term's compact key grouped by Latin word: the gaps whose spacing must be uniform."""
    normalized = NormalizedText.of(term)
    key, term_gaps = normalized.compact, _gaps(normalized, 0, len(normalized.compact))
    runs: list[tuple[int, ...]] = []
    run: list[int] = []
    for i, separated in enumerate(term_gaps):
        if not separated and is_latin(key[i]) and is_latin(key[i + 1]):
            run.append(i)
        elif run:
            runs.append(tuple(run))
            run = []
    if run:
        runs.append(tuple(run))
    return tuple(runs)


class PatternDetector:
    """Regexes on the folded text (full-width forms ASCII, zero-width removed), with checksum validators."""

    name = "patterns"

    def __init__(self, policy: Policy) -> None:
        self.patterns = [
            (category, re.compile(spec.regex, re.IGNORECASE), spec.validator)
            for category, cat in policy.categories.items()
            for spec in cat.patterns
        ]

    def detect(self, text: NormalizedText, context: DetectContext) -> list[Hit]:
        hits = []
        for category, regex, validator in self.patterns:
            for m in regex.finditer(text.folded):
                if m.end() == m.start() or (validator and not VALIDATORS[validator](m.group(0))):
                    continue
                start, end = text.folded_span(m.start(), m.end())
                hits.append(Hit(category, start, end, RULE_SCORE, self.name, text.original[start:end]))
        return hits
