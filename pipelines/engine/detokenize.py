"""Incremental detokenization: each new token adds its text in O(1), never a partial character.

Re-decoding a sequence's whole token list every step costs O(length) per token. ``tokenizers``'
``DecodeStream`` decodes only the new token against a short prefix and returns nothing while the
bytes so far end inside a UTF-8 character, so the text it builds only ever grows by whole
characters. Stop strings are searched only where a new match can end, and streamed text is held
back by the longest stop string minus one character, so a stop string is never partly streamed.
The final text of a request still comes from one full decode (``ResultBuilder.finish``); the
streamed text is a prefix of it.
"""

from __future__ import annotations

from typing import Any

from tokenizers.decoders import DecodeStream


class IncrementalText:
    """The text of one sequence, built token by token, with its stop strings and hold-back."""

    def __init__(self, tokenizer: Any, stop: list[str]) -> None:
        self._backend = tokenizer.backend_tokenizer
        self._stream = DecodeStream(skip_special_tokens=True)
        self.stop = list(stop)
        self.hold_back = max((len(s) for s in self.stop), default=1) - 1
        self.text = ""
        self.emitted = 0  # characters of `text` already streamed
        self.stopped = False  # a stop string appeared

    def push(self, token_id: int) -> None:
        piece = self._stream.step(self._backend, token_id)
        if not piece:
            return
        searched_to = len(self.text)
        self.text += piece
        if self.stop and not self.stopped:
            self.stopped = any(s in self.text[max(0, searched_to - len(s) + 1) :] for s in self.stop)

    def take_delta(self) -> str:
        """New text that is safe to stream now (empty once a stop string appeared)."""
        if self.stopped:
            return ""
        safe = len(self.text) - self.hold_back
        if safe <= self.emitted:
            return ""
        delta = self.text[self.emitted : safe]
        self.emitted = safe
        return delta
