"""Detection layers, cheapest first. Each returns hits: (category, original span, score, layer).

Decisions:

* Both rule layers run in time linear in the text: terms in one Aho-Corasick automaton per view,
  patterns on RE2 (``config.compile_linear``), each over at most ``scan.max_chars`` characters.
  Per-hit work (boundary and spacing checks, checksums) is capped at ``scan.max_hits`` per pattern
  and for the term layer: past the cap, the rest of the text from the next raw match on becomes one
  span of that category (fail closed: redaction covers it, a block still blocks).
* Terms match the compact view and, when the text has any, its leetspeak views; hits from several
  views (and from the display-order copy of a text with RIGHT-TO-LEFT OVERRIDEs) are merged.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import ahocorasick
import re2

from pipelines.moderation.policy.config import Direction, Policy, ScanLimits, compile_linear, linear_options
from pipelines.moderation.text.checksums import COSTLY_VALIDATORS, VALIDATORS
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


_TermEntry = tuple[str, tuple[tuple[int, ...], ...], bool]  # (category, word runs (see _word_runs), is exception)


class TermDetector:
    """All categories' terms and exceptions in one Aho-Corasick automaton over the compact views.

    Separators may be added or dropped anywhere except inside a Latin word of the term, which must
    appear either intact or spaced out letter by letter: "add wechat", "addwechat", "add w e c h a t"
    and "a.d.d w.e.c.h.a.t" hit "add wechat", "add we chat" does not (it is ordinary text). Chinese
    and mixed terms accept any separators between non-Latin characters ("加 微 信", "加 vx").
    A Latin term must not be flanked by Latin letters in the original ("class" has no "ass").
    A hit that overlaps a match of one of its category's exceptions does not count ("打死你都不信" is an
    idiom, "出售手枪钻" sells a power drill).
    """

    name = "terms"

    def __init__(self, policy: Policy) -> None:
        self.scan = policy.scan
        entries: dict[str, list[_TermEntry]] = {}
        for category, spec in policy.categories.items():
            for phrases, is_exception in ((spec.terms, False), (spec.exceptions, True)):
                for term in phrases:
                    key = compact_term(term)
                    if key:
                        entries.setdefault(key, []).append((category, _word_runs(term), is_exception))
        self.automaton = ahocorasick.Automaton()
        for key, found in entries.items():
            categories = frozenset(category for category, _, is_exception in found if not is_exception)
            self.automaton.add_word(key, (len(key), tuple(found), categories))
        self.empty = not entries
        if not self.empty:
            self.automaton.make_automaton()

    def detect(self, text: NormalizedText, context: DetectContext) -> list[Hit]:
        if self.empty:
            return overflow_hits(text, self.scan, self.name)
        return _rule_hits(text, self._spans, self.scan, self.name)

    def _spans(self, text: NormalizedText) -> set[tuple[str, int, int]]:
        limit = _scan_limit(text, self.scan)
        found: set[tuple[str, int, int]] = set()
        exceptions: set[tuple[str, int, int]] = set()
        budget = self.scan.max_hits
        for view, origin, leet in text.term_views():
            end = bisect.bisect_left(origin, limit)
            raw = self.automaton.iter(view, 0, end) if end else iter(())
            for end_index, (length, entries, categories) in raw:
                if budget == 0:
                    found |= _tail(text, origin, end_index - length + 1, end, categories, raw)
                    break
                budget -= 1
                self._examine(text, origin, leet, end_index - length + 1, end_index + 1, entries, found, exceptions)
        return {hit for hit in found if not _excepted(hit, exceptions)}

    @staticmethod
    def _examine(
        text: NormalizedText,
        origin: Sequence[int],
        leet: bool,
        c_start: int,
        c_end: int,
        entries: tuple[_TermEntry, ...],
        found: set[tuple[str, int, int]],
        exceptions: set[tuple[str, int, int]],
    ) -> None:
        if _inside_latin_word(text, origin, c_start, c_end, leet):
            return
        start, end = text.origin_span(origin, c_start, c_end)
        gaps = _gaps(text, origin, c_start, c_end)
        for category, runs, is_exception in entries:
            if all(len({gaps[i] for i in run}) == 1 for run in runs):
                (exceptions if is_exception else found).add((category, start, end))


def _tail(
    text: NormalizedText,
    origin: Sequence[int],
    c_start: int,
    view_end: int,
    categories: frozenset[str],
    rest: Iterable[tuple[int, tuple[int, tuple[_TermEntry, ...], frozenset[str]]]],
) -> set[tuple[str, int, int]]:
    """Past the hit budget: one span per category still hit, from this raw hit to the end of the scan."""
    hit = set(categories)
    for _, (_, _, more) in rest:
        hit |= more
    start, end = text.origin_span(origin, c_start, view_end)
    return {(category, start, end) for category in hit}


def _excepted(hit: tuple[str, int, int], exceptions: set[tuple[str, int, int]]) -> bool:
    category, start, end = hit
    return any(c == category and s < end and start < e for c, s, e in exceptions)


def _scan_limit(text: NormalizedText, scan: ScanLimits) -> int:
    """Original index the views are scanned up to."""
    covered = text.scanned if text.truncated else len(text.original)
    return min(covered, scan.max_chars)


def overflow_hits(text: NormalizedText, scan: ScanLimits, layer: str) -> list[Hit]:
    """A whole-text hit on ``scan.overflow_category`` when the text was longer than the scan budget."""
    too_long = text.truncated or len(text.original) > scan.max_chars
    if too_long and scan.overflow_category is not None:
        return [Hit(scan.overflow_category, 0, 0, RULE_SCORE, layer, "")]
    return []


def _inside_latin_word(text: NormalizedText, origin: Sequence[int], c_start: int, c_end: int, leet: bool) -> bool:
    first, last = origin[c_start], origin[c_end - 1]
    if text.is_word_char(first, leet):
        before = text.neighbour_index(first - 1, -1)
        if before >= 0 and text.is_word_char(before, leet):
            return True
    if text.is_word_char(last, leet):
        after = text.neighbour_index(last + 1, 1)
        if after >= 0 and text.is_word_char(after, leet):
            return True
    return False


def _gaps(text: NormalizedText, origin: Sequence[int], c_start: int, c_end: int) -> tuple[bool, ...]:
    """For each pair of adjacent matched characters: is there a visible separator between them?"""
    return tuple(
        any(not is_invisible(ch) for ch in text.original[origin[i] + 1 : origin[i + 1]])
        for i in range(c_start, c_end - 1)
    )


def _word_runs(term: str) -> tuple[tuple[int, ...], ...]:
    """Gap indices of the term's compact key grouped by Latin word: the gaps whose spacing must be uniform."""
    normalized = NormalizedText.of(term)
    key, term_gaps = normalized.compact, _gaps(normalized, normalized.origin, 0, len(normalized.compact))
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


@dataclass(frozen=True)
class _Pattern:
    category: str
    regex: Any  # a compiled RE2 regex (google-re2 ships no type stubs)
    validator: str | None
    group: int


def _rule_hits(
    text: NormalizedText, spans_of: Callable[[NormalizedText], set[tuple[str, int, int]]], scan: ScanLimits, name: str
) -> list[Hit]:
    """A rule detector's hits: its spans in the text and in the text as displayed (overridden runs
    reversed), in original indices, then the hits for what the scan limits left unread."""
    spans = spans_of(text)
    if text.visual is not None:
        spans |= {(c, *text.visual_span(s, e)) for c, s, e in spans_of(text.visual)}
    hits = [Hit(c, s, e, RULE_SCORE, name, text.original[s:e]) for c, s, e in sorted(spans)]
    return hits + overflow_hits(text, scan, name)


class PatternDetector:
    """RE2 patterns on the folded text (full-width forms ASCII, zero-width removed), with validators.

    A short text is first matched against all patterns at once (an RE2 set: one pass), and only the
    patterns that match search it on their own. The folded view is encoded to UTF-8 once per text and
    every pattern runs on those bytes;
    byte offsets map back to characters in one pass per pattern. A pattern's search resumes at the
    end of its reported group, so context a pattern consumes (a leading ``[^0-9]``) is never lost
    to the next match.
    """

    name = "patterns"

    def __init__(self, policy: Policy) -> None:
        self.scan = policy.scan
        self.patterns = [
            _Pattern(category, compile_linear(spec.regex, policy.scan.regex_max_mem), spec.validator, spec.group)
            for category, cat in policy.categories.items()
            for spec in cat.patterns
        ]
        self.prefilter: Any = None
        if self.patterns:
            self.prefilter = re2.Set.SearchSet(linear_options(policy.scan.regex_max_mem * len(self.patterns)))
            for spec in (spec for cat in policy.categories.values() for spec in cat.patterns):
                self.prefilter.Add(spec.regex)
            self.prefilter.Compile()

    def detect(self, text: NormalizedText, context: DetectContext) -> list[Hit]:
        return _rule_hits(text, self._spans, self.scan, self.name)

    def _spans(self, text: NormalizedText) -> set[tuple[str, int, int]]:
        if not self.patterns:
            return set()
        cut = bisect.bisect_left(text.folded_origin, _scan_limit(text, self.scan))
        folded = text.folded[:cut]
        data = folded.encode("utf-8")
        chars = _CharOffsets(data, ascii_only=len(data) == len(folded))
        checks = _Budget(self.scan.max_phone_checks)
        found: set[tuple[str, int, int]] = set()
        patterns = self.patterns
        if len(folded) <= self.scan.prefilter_max_chars:
            patterns = [self.patterns[i] for i in sorted(self.prefilter.Match(data) or ())]
        for pattern in patterns:
            chars.rewind()
            for start, end in self._matches(pattern, data, checks):
                if end < 0:  # past the hit budget: the rest of the scan, from this match on
                    found.add((pattern.category, *text.folded_span(chars.of(start), len(folded))))
                    break
                found.add((pattern.category, *text.folded_span(chars.of(start), chars.of(end))))
        return found

    def _matches(self, pattern: _Pattern, data: bytes, checks: _Budget) -> Iterable[tuple[int, int]]:
        """Byte spans of the pattern's valid matches; ``(start, -1)`` once the hit budget is spent."""
        pos, examined = 0, 0
        while pos <= len(data):
            m = pattern.regex.search(data, pos)
            if m is None:
                return
            start, end = m.span(pattern.group)
            pos = max(end, m.start() + 1)
            if start < 0 or end <= start:
                continue
            if examined == self.scan.max_hits:
                yield start, -1
                return
            examined += 1
            if _valid(pattern.validator, data[start:end], checks):
                yield start, end


def _valid(validator: str | None, matched: bytes, checks: _Budget) -> bool:
    if validator is None:
        return True
    if validator in COSTLY_VALIDATORS and not checks.take():
        return True  # past the budget a candidate counts unchecked (fail closed)
    return VALIDATORS[validator](matched.decode("utf-8"))


class _Budget:
    def __init__(self, amount: int) -> None:
        self.left = amount

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


class _CharOffsets:
    """Byte offsets into UTF-8 ``data`` -> character offsets, for offsets asked in increasing order
    (one pattern's matches); ``rewind`` before the next pattern. Linear in the bytes walked."""

    def __init__(self, data: bytes, ascii_only: bool) -> None:
        self.data = data
        self.ascii_only = ascii_only
        self.rewind()

    def rewind(self) -> None:
        self.byte = 0
        self.char = 0

    def of(self, offset: int) -> int:
        if self.ascii_only:
            return offset
        if offset < self.byte:
            self.rewind()
        self.char += len(self.data[self.byte : offset].decode("utf-8"))
        self.byte = offset
        return self.char
