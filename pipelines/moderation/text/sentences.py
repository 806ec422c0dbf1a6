"""Sentence spans of a text, shared by the classifier layers (they score sentence by sentence)."""

from __future__ import annotations

import re

# Sentence ends (Latin and CJK) and line breaks: classifiers score each sentence (or window of
# sentences), so one abusive sentence in a long answer is not diluted, and its span can be redacted.
# Linear: each character is consumed by at most one of the three classes, without backtracking.
_SENTENCE = re.compile(r"[^\s.!?。！？][^.!?。！？\n]*[.!?。！？]*")


def sentence_spans(text: str, limit: int) -> list[tuple[int, int]]:
    """[start, end) of each sentence with letters in it; the sentences past ``limit`` become one span."""
    spans = [(m.start(), m.end()) for m in _SENTENCE.finditer(text) if any(ch.isalpha() for ch in m.group())]
    if len(spans) > limit:
        spans = [*spans[: limit - 1], (spans[limit - 1][0], spans[-1][1])]
    return spans
