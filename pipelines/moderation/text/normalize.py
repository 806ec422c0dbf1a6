"""Text normalisation for matching, with maps back to the original characters.

Evasions the rule layers see through: case; full-width and other compatibility forms (``ＷｅＣｈａｔ``,
``Ⓟⓞⓡⓝ``); invisible format characters (zero-width space/joiners, word joiner, BOM, soft hyphen,
bidi controls: Unicode category Cf); emoji and other pictographs between letters (``we🍑chat``);
separators between letters (``w e c h a t``, ``微 信``); accents (``pörn``); traditional Chinese
characters (``槍支彈藥`` is ``枪支弹药``); Cyrillic, Greek and other look-alike letters inside Latin
words (``рorn`` with a Cyrillic ``р``); leetspeak inside words (``p0rn``, ``h3r0in``, ``c@sino``);
and text written backwards behind U+202E RIGHT-TO-LEFT OVERRIDE, which displays it the right way round.

Views, each with a map from view index to original index:

* ``source``: the original, one character for one (so it needs no map): traditional characters
  simplified (OpenCC ``t2s``, character by character) and look-alike letters replaced by the Latin
  letter they imitate. Boundary checks ("is this a Latin letter?") read it.
* ``folded``: ``source`` NFKC + casefold, format characters and pictographs removed, separators kept.
  Patterns match here, so ``jane\\u200b@example.com`` or full-width digits still look like an e-mail
  or a phone number.
* ``compact``: ``folded`` without accents, letters and digits only. Terms match here.
* ``leet`` and ``leet_alt``, only when a digit or ``@ $ !`` sits in a word with Latin letters:
  ``compact`` with those read as letters (``0 o, 1 i, 3 e, 4 a, 5 s, 7 t, @ a, $ s, ! i``;
  ``leet_alt`` reads ``1`` as ``l``). Terms match here too; patterns never do, so phone numbers,
  prices and ids keep their digits.
* ``visual``, only when the text contains U+202E: the normalised text as displayed, each overridden
  run reversed, with ``visual_origin`` mapping it back.

Decisions:

* Every step is per character or per word and linear in the text: translate tables filled on
  demand (bounded caches), regexes of single character classes (no backtracking), no per-match
  rescans. Views are built only when the text needs them (leet, visual).
* Look-alike letters are folded only in words without a letter of their alphabet that has no Latin
  look-alike: ``рorn`` (a Cyrillic ``р`` among Latin letters) and ``加vх`` become ``porn`` and
  ``加vx``, but a Russian word such as ``привет`` is left alone.
* Leetspeak needs a Latin letter beside the run of leet characters: ``13800138000`` and ``2024`` stay
  digits, and ``!`` after a word (``yes!``) stays punctuation. A leet character spaced away from its
  word (``p 0 r n``) is not read as a letter.
* Traditional -> simplified conversion is per character, not per phrase, so it never changes the
  text's length and the index maps stay exact.
* Folding is per character, so every view character comes from exactly one original character and
  ``[origin[start], origin[end - 1] + 1)`` is the exact original span, whatever NFKC did to lengths.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import compress

import numpy as np

from pipelines.moderation.text.folding import (
    FOLD,
    LEET_MIX,
    LEET_ONE,
    MARK_CATEGORIES,
    SIMPLIFY,
    STRIP,
    STRIP_LEET,
    CharTable,
    compact_char,
    fold_char,
    fold_homoglyphs,
    is_invisible,
    is_latin,
    is_separator,
    leet_marked,
    strip_char,
)

__all__ = [
    "NormalizedText",
    "compact_char",
    "compact_term",
    "fold_char",
    "is_invisible",
    "is_latin",
    "is_separator",
    "strip_char",
]

_RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: what follows is displayed reversed ...
_PDF = "\u202c"  # ... up to POP DIRECTIONAL FORMATTING or the end of the paragraph
_RUN_END = re.compile("[\u202c\n\r\x1c\x1d\x1e\x85\u2029]")  # PDF or a paragraph end (bidi class B)
_MASK = ("\x00", "\x01")  # by output width 0 / 1: the bytes compress() keeps


def _project(text: str, table: CharTable) -> tuple[str, Sequence[int]]:
    """``text`` with each character replaced by ``table``'s value and, per output character, the index in
    ``text`` it comes from.

    Linear and mostly in C: the table is looked up once per distinct character, into a plain dict
    (``str.translate`` is several times slower on a dict subclass); 1:1 texts get ``range``, texts that
    only drop characters a ``compress`` over a mask, and texts with expansions (``ﬁ`` is ``fi``) one
    ``numpy.repeat``.
    """
    codes = list(map(ord, set(text)))
    values = list(map(table.__getitem__, codes))
    mapping = dict(zip(codes, values, strict=True))
    widths = set(map(len, values))
    if widths == {1}:
        identity = "".join(values) == "".join(map(chr, codes))
        return (text if identity else text.translate(mapping)), range(len(text))
    out = text.translate(mapping)
    if widths <= {0, 1}:
        mask = text.translate(dict(zip(codes, map(_MASK.__getitem__, map(len, values)), strict=True))).encode("latin-1")
        return out, tuple(compress(range(len(text)), mask))
    widths_by_char = text.translate(dict(zip(codes, map(chr, map(len, values)), strict=True))).encode("latin-1")
    return out, tuple(np.repeat(np.arange(len(text)), np.frombuffer(widths_by_char, dtype=np.uint8)).tolist())


def _compose(outer: Sequence[int], inner: Sequence[int]) -> Sequence[int]:
    """``inner`` indexes into a view whose own map is ``outer``: the map straight to the original."""
    if isinstance(outer, range) and outer.start == 0 and outer.step == 1:
        return inner
    return tuple(map(outer.__getitem__, inner))


def _run_end(text: str, start: int) -> int:
    """End of the overridden run that starts at ``start`` (just after an RLO): the next PDF or paragraph end."""
    m = _RUN_END.search(text, start)
    return m.start() if m else len(text)


def _display_order(text: str) -> tuple[list[int], dict[int, int]] | None:
    """Original indices in display order, and each RLO's index -> the end of the run it reverses, when
    the text has RIGHT-TO-LEFT OVERRIDEs; else None.

    A simplification of the Unicode bidi algorithm that is exact for the evasion: the characters
    after an RLO, up to the next PDF or paragraph end, are shown in reverse order.
    """
    if _RLO not in text:
        return None
    order: list[int] = []
    runs: dict[int, int] = {}
    i = 0
    while (rlo := text.find(_RLO, i)) >= 0:
        end = _run_end(text, rlo + 1)
        runs[rlo] = end
        order.extend(range(i, rlo + 1))
        order.extend(range(end - 1, rlo, -1))
        i = end
    order.extend(range(i, len(text)))
    return order, runs


@dataclass(frozen=True)
class NormalizedText:
    original: str
    compact: str  # folded, accent-free letters and digits only: what terms match against
    origin: Sequence[int]  # compact index -> original index
    folded: str  # folded, format characters removed, separators kept: what patterns match against
    folded_origin: Sequence[int]  # folded index -> original index
    source: str = ""  # the original with simplified Chinese and Latin look-alikes folded (same length)
    leet: str | None = None  # compact with leet characters read as letters ("1" as "i"), when any
    leet_alt: str | None = None  # the same with "1" read as "l", when that differs
    leet_origin: Sequence[int] = ()  # leet (and leet_alt) index -> original index
    leet_positions: frozenset[int] = frozenset()  # original indices read as leet letters
    visual: NormalizedText | None = None  # the text as displayed, when it has RIGHT-TO-LEFT OVERRIDEs
    visual_origin: Sequence[int] = ()  # visual.original index -> original index
    visual_runs: dict[int, int] | None = None  # index of each RLO -> end of the run it reverses
    scanned: int = -1  # original characters the views cover (a prefix); -1: all of them

    @classmethod
    def of(cls, text: str, max_chars: int | None = None) -> NormalizedText:
        """The views of ``text``; with ``max_chars``, of its first ``max_chars`` characters only
        (``original`` is still the whole text, and ``truncated`` says the views do not cover it)."""
        scanned = text if max_chars is None or len(text) <= max_chars else text[:max_chars]
        display = _display_order(scanned)
        built = cls._build(scanned)
        if display is None and len(scanned) == len(text):
            return built
        order, runs = display if display is not None else ([], {})
        return cls(
            text,
            **{f: getattr(built, f) for f in _FIELDS},
            visual=cls._build("".join(map(scanned.__getitem__, order))) if display is not None else None,
            visual_origin=tuple(order),
            visual_runs=runs,
            scanned=len(scanned) if len(scanned) < len(text) else -1,
        )

    @classmethod
    def _build(cls, text: str) -> NormalizedText:
        """The views of ``text`` (the whole text, its scanned prefix, or its display-order copy)."""
        source = text if text.isascii() else fold_homoglyphs(_project(text, SIMPLIFY)[0])
        folded, folded_origin = _project(source, FOLD)
        compact, compact_index = _project(folded, STRIP)
        origin = _compose(folded_origin, compact_index)
        leet = leet_alt = None
        leet_origin: Sequence[int] = ()
        leet_positions: frozenset[int] = frozenset()
        marked = leet_marked(folded) if LEET_MIX.search(folded) else folded
        if marked is not folded:
            changed = compress(range(len(folded)), map(operator.ne, folded, marked))
            leet_positions = frozenset(map(folded_origin.__getitem__, changed))
            stripped, leet_index = _project(marked, STRIP_LEET)
            leet_origin = _compose(folded_origin, leet_index)
            leet = stripped.replace(LEET_ONE, "i")
            if LEET_ONE in stripped:
                leet_alt = stripped.replace(LEET_ONE, "l")
        return cls(
            text,
            compact,
            origin,
            folded,
            folded_origin,
            source=source,
            leet=leet,
            leet_alt=leet_alt,
            leet_origin=leet_origin,
            leet_positions=leet_positions,
        )

    @property
    def truncated(self) -> bool:
        """The views cover only a prefix of the original (``of(text, max_chars)`` on a longer text)."""
        return self.scanned >= 0

    def term_views(self) -> Iterator[tuple[str, Sequence[int], bool]]:
        """(view, its origin map, whether leet positions count as letters) for each view terms match."""
        yield self.compact, self.origin, False
        if self.leet is not None:
            yield self.leet, self.leet_origin, True
            if self.leet_alt is not None:
                yield self.leet_alt, self.leet_origin, True

    def is_word_char(self, index: int, leet: bool) -> bool:
        """Is original character ``index`` a Latin letter after folding (look-alikes, and leet when asked)?"""
        return is_latin(self.source[index]) or (leet and index in self.leet_positions)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of compact characters [start, end), with the last one's combining marks."""
        return self.origin[start], self._after_marks(self.origin[end - 1] + 1)

    def folded_span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of folded characters [start, end) (non-empty)."""
        return self.folded_origin[start], self._after_marks(self.folded_origin[end - 1] + 1)

    def origin_span(self, origin: Sequence[int], start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of view characters [start, end) of any view with map ``origin``."""
        return origin[start], self._after_marks(origin[end - 1] + 1)

    def visual_span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) covering ``visual.original[start:end]`` (reversed runs map backwards).

        A span that covers a whole overridden run takes its RLO (and PDF) along, so that redacting it
        leaves no override behind to reverse the placeholder.
        """
        covered = self.visual_origin[start:end]
        first, last = min(covered), max(covered) + 1
        run_end = (self.visual_runs or {}).get(first - 1)
        if run_end is not None and run_end <= last:
            first -= 1
            last = run_end + 1 if run_end < len(self.original) and self.original[run_end] == _PDF else last
        return first, self._after_marks(last)

    def _after_marks(self, end: int) -> int:
        while end < len(self.original) and unicodedata.category(self.original[end]) in MARK_CATEGORIES:
            end += 1
        return end

    def neighbour(self, index: int, step: int) -> str:
        """The nearest visible original character from ``index`` in direction ``step`` (±1); "" at the ends.

        Combining marks, format characters and pictographs are skipped: the mark in ``cafe\\u0301``
        belongs to the ``e`` before it, and ``cl\\u200bass`` still reads as one word.
        """
        i = self.neighbour_index(index, step)
        return self.original[i] if i >= 0 else ""

    def neighbour_index(self, index: int, step: int) -> int:
        """Index of the nearest visible original character from ``index`` in direction ``step``; -1 if none."""
        i = index
        while 0 <= i < len(self.original):
            if not is_invisible(self.original[i]):
                return i
            i += step
        return -1


_FIELDS = (
    "compact",
    "origin",
    "folded",
    "folded_origin",
    "source",
    "leet",
    "leet_alt",
    "leet_origin",
    "leet_positions",
)


def compact_term(term: str) -> str:
    return NormalizedText.of(term).compact
