"""Text normalisation for matching, with a map back to the original characters.

Evasions the rule layers must see through: case, full-width forms (``ＷｅＣｈａｔ``), invisible
format characters inside a word (zero-width space/joiners, word joiner, BOM, soft hyphen, bidi
controls: Unicode category Cf), and separators between letters (``w e c h a t``, ``微 信``).

Two views are built in one pass, each with an ``*_origin`` map (view index -> original index):

* ``compact``: NFKC + casefold, accents stripped (``pörn`` is ``porn``), letters and digits only.
  Terms match here.
* ``folded``: NFKC + casefold with only the format characters removed, separators kept. Patterns
  match here, so ``jane\\u200b@example.com`` or full-width digits still look like an e-mail / phone.

Folding is per character, so every view character comes from exactly one original character and
``[origin[start], origin[end - 1] + 1)`` is the exact original span, whatever NFKC did to lengths.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_FORMAT_CATEGORY = "Cf"
_MARK_CATEGORIES = frozenset({"Mn", "Me"})  # combining marks: they belong to the character before
_LATIN_PREFIX = "LATIN "
# A cache entry per distinct character seen; bounded so adversarial input cannot grow it forever.
_FOLD_CACHE_SIZE = 65536


@lru_cache(maxsize=_FOLD_CACHE_SIZE)
def fold_char(ch: str) -> str:
    """NFKC + casefold of one character; empty for invisible format characters, else 1+ characters."""
    if unicodedata.category(ch) == _FORMAT_CATEGORY:
        return ""
    return unicodedata.normalize("NFKC", ch).casefold()


def is_separator(ch: str) -> bool:
    return not ch.isalnum()


@lru_cache(maxsize=_FOLD_CACHE_SIZE)
def compact_char(ch: str) -> str:
    """What one character adds to the compact view: its fold without accents, letters and digits only."""
    return "".join(c for c in unicodedata.normalize("NFKD", fold_char(ch)) if not is_separator(c))


@lru_cache(maxsize=_FOLD_CACHE_SIZE)
def is_latin(ch: str) -> bool:
    """A Latin letter after folding: ``a``, ``Ａ`` (full-width), ``é`` are; ``中``, ``1``, ``-`` are not."""
    folded = fold_char(ch) if ch else ""
    return bool(folded) and folded[0].isalpha() and unicodedata.name(folded[0], "").startswith(_LATIN_PREFIX)


def is_invisible(ch: str) -> bool:
    """Characters that attach to or vanish beside their neighbours (format characters, combining marks)."""
    return not fold_char(ch) or unicodedata.category(ch) in _MARK_CATEGORIES


@dataclass(frozen=True)
class NormalizedText:
    original: str
    compact: str  # folded, accent-free letters and digits only: what terms match against
    origin: tuple[int, ...]  # compact index -> original index
    folded: str  # folded, format characters removed, separators kept: what patterns match against
    folded_origin: tuple[int, ...]  # folded index -> original index

    @classmethod
    def of(cls, text: str) -> NormalizedText:
        pairs = [_fold_pair(ch) for ch in text]
        folded = "".join([f for f, _ in pairs])
        compact = "".join([c for _, c in pairs])
        folded_origin = tuple([i for i, (f, _) in enumerate(pairs) for _ in f])
        origin = tuple([i for i, (_, c) in enumerate(pairs) for _ in c])
        return cls(text, compact, origin, folded, folded_origin)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of compact characters [start, end), with the last one's combining marks."""
        return self.origin[start], self._after_marks(self.origin[end - 1] + 1)

    def folded_span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of folded characters [start, end) (non-empty)."""
        return self.folded_origin[start], self._after_marks(self.folded_origin[end - 1] + 1)

    def _after_marks(self, end: int) -> int:
        while end < len(self.original) and unicodedata.category(self.original[end]) in _MARK_CATEGORIES:
            end += 1
        return end

    def neighbour(self, index: int, step: int) -> str:
        """The nearest visible original character from ``index`` in direction ``step`` (±1); "" at the ends.

        Combining marks and format characters are skipped: the mark in ``cafe\\u0301`` belongs to
        the ``e`` before it, and ``cl\\u200bass`` still reads as one word.
        """
        i = index
        while 0 <= i < len(self.original):
            if not is_invisible(self.original[i]):
                return self.original[i]
            i += step
        return ""


@lru_cache(maxsize=_FOLD_CACHE_SIZE)
def _fold_pair(ch: str) -> tuple[str, str]:
    return fold_char(ch), compact_char(ch)


def compact_term(term: str) -> str:
    return NormalizedText.of(term).compact
