"""Text normalisation for matching, with a map back to the original characters.

Evasions the term layer must see through: case, full-width forms (``ＷｅＣｈａｔ``), zero-width
characters inside a word, and separators between letters (``w e c h a t``, ``微 信``). Matching
runs on a compact string of letters and digits; ``origin[i]`` is the index in the original text
of compact character ``i``, so a hit maps back to the exact original span for redaction.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")


@lru_cache(maxsize=65536)
def fold_char(ch: str) -> str:
    """NFKC + casefold of one character; may be empty (zero-width) or several characters."""
    if ch in ZERO_WIDTH:
        return ""
    return unicodedata.normalize("NFKC", ch).casefold()


def is_separator(ch: str) -> bool:
    return not ch.isalnum()


@dataclass(frozen=True)
class NormalizedText:
    original: str
    compact: str  # folded letters and digits only
    origin: tuple[int, ...]  # compact index -> original index
    folded: str  # same length as original: 1:1 folds applied, for regexes

    @classmethod
    def of(cls, text: str) -> NormalizedText:
        compact: list[str] = []
        origin: list[int] = []
        folded: list[str] = []
        for i, ch in enumerate(text):
            f = fold_char(ch)
            folded.append(f if len(f) == 1 else ch)
            for c in f:
                if not is_separator(c):
                    compact.append(c)
                    origin.append(i)
        return cls(text, "".join(compact), tuple(origin), "".join(folded))

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of compact characters [start, end)."""
        return self.origin[start], self.origin[end - 1] + 1


def compact_term(term: str) -> str:
    return NormalizedText.of(term).compact


def is_latin(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()
