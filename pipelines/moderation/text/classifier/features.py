"""Text -> sparse features of the shipped classifier: one implementation for training and inference.

The trainer (``devtools.train_text_classifier``) builds its vocabulary and its training matrix with
:func:`grams`, and the layer scores with the same function, so what the model saw and what it scores
cannot drift apart (no scikit-learn vectorizer is pickled or re-created at inference).

Decisions:

* Normalisation folds what changes the surface but not the meaning: NFKC (full-width forms),
  case, traditional -> simplified Chinese (OpenCC ``t2s``), invisible format characters, runs of a
  repeated character (``soooo`` -> ``sooo``, ``！！！！`` -> ``!!!``), and every digit to ``0`` so a
  phone number, a price or an age generalise by shape (its length) instead of by value.
* URLs, e-mail addresses and @mentions become marker words (``urlx``, ``emailx``, ``mentionx``): the
  tweets in the training data carry ``@user`` and ``t.co`` links in every class, and a specific
  handle or link says nothing about the next text.
* Features: character n-grams (default 1-4) over the whole normalised text, which covers Chinese
  without a word segmenter (jieba words added nothing on held-out COLD topics), plus Latin word
  unigrams and bigrams, which carry English targets (``you idiot``) that character n-grams blur.
* Every regex here is bounded (fixed-width or capped repetitions, no nested quantifiers), so the cost
  is linear in the text; texts are also cut at ``max_chars`` before featurising.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

FEATURES_VERSION = 1

_URL = re.compile(
    r"(?:https?://|www\.)[^\s]{1,300}|\b[a-z0-9\-]{1,63}\.(?:com|net|org|cn|ly|me|io|co|gl|cc|tk|xyz|top)\b(?:/[^\s]{0,300})?"
)
_EMAIL = re.compile(r"[a-z0-9._%+\-]{1,64}@[a-z0-9\-]{1,63}(?:\.[a-z0-9\-]{1,63}){0,4}\.[a-z]{2,10}")
_MENTION = re.compile(r"@[a-z0-9_]{1,30}")
_RETWEET = re.compile(r"(?:^|\s)rt(?=\s{1,5}mentionx)")
_REPEAT = re.compile(r"([^0])\1{3,}")  # digits (all "0" by now) keep their run length: it is their shape
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]{1,3})?")
_CACHE = 65536


class FeatureSettings(BaseModel):
    """How texts become features; stored in the artifact's manifest and checked on load."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(FEATURES_VERSION, description="Feature-extraction version; a mismatch refuses the load.")
    char_min: int = Field(1, ge=1, description="Shortest character n-gram.")
    char_max: int = Field(4, ge=1, description="Longest character n-gram.")
    word_bigrams: bool = Field(True, description="Add Latin word bigrams to the word unigrams.")
    max_chars: int = Field(4000, gt=0, description="Characters featurised per piece; the rest is ignored.")


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=_CACHE)
def _fold_char(ch: str) -> str:
    if ch.isdigit() and ch.isascii():
        return "0"
    category = unicodedata.category(ch)
    if category == "Cf":
        return ""
    if category[0] in "CZ":  # controls, separators, line breaks: one space
        return " "
    folded = unicodedata.normalize("NFKC", ch).casefold()
    return "".join("0" if c.isdigit() else c for c in folded)


def normalise(text: str, max_chars: int = 4000) -> str:
    """The classifier's view of a text (see the module docstring); idempotent."""
    folded = "".join([_fold_char(ch) for ch in text[:max_chars]])
    folded = _t2s().convert(folded)
    folded = _EMAIL.sub(" emailx ", folded)
    folded = _URL.sub(" urlx ", folded)
    folded = _MENTION.sub(" mentionx ", folded)
    folded = _RETWEET.sub(" ", folded)
    folded = _REPEAT.sub(r"\1\1\1", folded)
    return _SPACES.sub(" ", folded).strip()


def grams(text: str, settings: FeatureSettings) -> list[str]:
    """All feature strings of one text, with repeats (their counts are the term frequencies).

    Character n-grams are plain strings; words are prefixed ``w:`` and word bigrams ``b:`` so the
    three kinds cannot collide.
    """
    s = normalise(text, settings.max_chars)
    if not s:
        return []
    padded = f" {s} "
    out: list[str] = []
    length = len(padded)
    for n in range(settings.char_min, settings.char_max + 1):
        if n == 1:  # whitespace is single spaces by now, so only a 1-gram can be all space
            out += [c for c in s if c != " "]
        else:
            out += [padded[i : i + n] for i in range(length - n + 1)]
    words = _WORD.findall(s)
    out += ["w:" + w for w in words]
    if settings.word_bigrams:
        out += [f"b:{a} {b}" for a, b in itertools.pairwise(words)]
    return out
