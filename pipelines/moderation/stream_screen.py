"""Screening a streamed answer: no text is released before the policy has seen it.

The model's text arrives in deltas. Each time new text arrives, the whole answer so far is
checked (a term split across tokens is whole again) and only the screened text up to
``hold_back`` characters before its end is released: the tail stays back until later text shows
that it does not start a term, a phone number or a card number. ``redact`` therefore works
mid-stream (the released text is the redacted one); ``block`` stops the stream.

Intermediate checks are partial (cheap layers, no audit record); the stream's end runs one full,
audited check over everything the model said, and what is left is released from that decision.
Text already released cannot be recalled: if a later decision would change it (a match longer
than the hold-back that reaches back into released text), the stream is blocked instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pipelines.moderation.policy.engine import PolicyDecision

Check = Callable[[str, bool], Awaitable[PolicyDecision]]
"""``check(text, final)``: the output policy on ``text``; ``final`` runs every layer and audits."""


@dataclass
class ScreenStep:
    release: str  # text the client may see now
    blocked: bool
    decision: PolicyDecision | None  # the decision behind this step (None if no check ran)


class StreamScreen:
    def __init__(self, check: Check, hold_back: int) -> None:
        self.check = check
        self.hold_back = hold_back
        self.raw = ""  # everything the model said so far
        self.released = ""  # everything the client was sent
        self.blocked = False
        self.checks = 0

    async def feed(self, delta: str) -> ScreenStep:
        """Screen the answer with ``delta`` appended; returns what may be released now."""
        if self.blocked:
            return ScreenStep("", True, None)
        self.raw += delta
        if not delta:
            return ScreenStep("", False, None)
        decision = await self._check(final=False)
        if decision.blocked:
            self.blocked = True
            return ScreenStep("", True, decision)
        return ScreenStep(self._release(decision.text, len(decision.text) - self.hold_back), self.blocked, decision)

    async def finish(self) -> ScreenStep:
        """The audited decision on the whole answer, and the rest of the text it allows."""
        decision = await self._check(final=True)
        if decision.blocked or self.blocked:
            self.blocked = True
            return ScreenStep("", True, decision)
        return ScreenStep(self._release(decision.text, len(decision.text)), self.blocked, decision)

    async def _check(self, final: bool) -> PolicyDecision:
        self.checks += 1
        return await self.check(self.raw, final)

    def _release(self, screened: str, end: int) -> str:
        if not screened.startswith(self.released):
            self.blocked = True  # a decision reaches back into text the client already has
            return ""
        if end <= len(self.released):
            return ""
        new = screened[len(self.released) : end]
        self.released += new
        return new
