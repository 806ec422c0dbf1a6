"""Evasion spellings: the disguises of a key word that the evasion items use."""

from __future__ import annotations

from collections.abc import Callable

ZWSP = "\u200b"
_HOMOGLYPHS = str.maketrans({"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "i": "і"})  # Cyrillic
_LEET = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"})


def spaced(word: str) -> str:
    """``w e c h a t``: a space between every letter (words run together)."""
    return " ".join(ch for ch in word if ch != " ")


def dotted(word: str) -> str:
    """``w.e.c.h.a.t``: dots inside each word, spaces between words."""
    return " ".join(".".join(part) for part in word.split())


def starred(word: str) -> str:
    """``w*e*c*h*a*t``: punctuation between letters."""
    return "*".join(ch for ch in word if ch != " ")


def fullwidth(word: str) -> str:
    """``ＷｅＣｈａｔ``: full-width forms (U+FF01..U+FF5E), ideographic space."""
    return "".join("\u3000" if ch == " " else chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in word)


def zero_width(word: str) -> str:
    """A zero-width space between every character (invisible when rendered)."""
    return ZWSP.join(word)


def mixed_case(word: str) -> str:
    return "".join(ch.upper() if i % 2 == 0 else ch.lower() for i, ch in enumerate(word))


def leet(word: str) -> str:
    """``p0rn``: digits for letters (the rule layers do not undo this)."""
    return word.translate(_LEET)


def homoglyph(word: str) -> str:
    """Cyrillic letters that look Latin (NFKC leaves them alone, so the rule layers do not see through this)."""
    return word.translate(_HOMOGLYPHS)


def zh_spaced(word: str) -> str:
    return " ".join(word)


def zh_punct(word: str) -> str:
    return "|".join(word)


def zh_ideographic_space(word: str) -> str:
    return "\u3000".join(word)


Transform = Callable[[str], str]
