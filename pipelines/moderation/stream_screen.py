"""Screening a streamed answer: no text is released before every layer of the policy has seen it.

The model's text arrives in deltas. Each time new text arrives, the whole answer so far is
checked (a term split across tokens is whole again) and only the screened text up to
``hold_back`` characters before its end is released: the tail stays back until later text shows
that it does not start a term, a phone number or a card number. ``redact`` therefore works
mid-stream (the released text is the redacted one); ``block`` stops the stream.

The per-delta check is cheap: it skips layers that call a model (the guard). When the policy has
such layers (the decision's ``all_layers`` is false), that check can block but releases nothing;
text is released only once an approval, a check by every layer, has passed it. Approvals run at
boundaries, not per delta: each time the answer completes a sentence, or ``approve_chars``
characters arrived without one, the answer up to that boundary is approved (the guard reads it
with everything before it). Neither check is audited; the stream's end runs one full, audited
check over everything the model said, and what is left is released from that decision.

Text already released cannot be recalled: if a later decision would change it (a match longer
than the hold-back that reaches back into released text), the stream is blocked instead.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from pipelines.moderation.policy.engine import PolicyDecision

CheckKind = Literal["cheap", "approve", "final"]
Check = Callable[[str, CheckKind], Awaitable[PolicyDecision]]
"""``check(text, kind)``: the output policy on ``text``. ``cheap``: the layers without a model call;
``approve``: every layer, not audited; ``final``: every layer, audited."""

# Where an approval may cut: after a sentence end (Latin or CJK) or a line break, and the spaces after it.
_BOUNDARY = re.compile(r"[.!?。！？\n]+\s*")


@dataclass
class ScreenStep:
    release: str  # text the client may see now
    blocked: bool
    decision: PolicyDecision | None  # the decision behind this step (None if no check ran)


class StreamScreen:
    def __init__(self, check: Check, hold_back: int, approve_chars: int) -> None:
        self.check = check
        self.hold_back = hold_back
        self.approve_chars = approve_chars
        self.raw = ""  # everything the model said so far
        self.released = ""  # everything the client was sent
        self.approved = 0  # characters of ``raw`` that every layer has passed
        self.blocked = False
        self.checks: list[CheckKind] = []

    async def feed(self, delta: str) -> ScreenStep:
        """Screen the answer with ``delta`` appended; returns what may be released now."""
        if self.blocked:
            return ScreenStep("", True, None)
        self.raw += delta
        if not delta:
            return ScreenStep("", False, None)
        decision = await self._check(self.raw, "cheap")
        if decision.blocked:
            self.blocked = True
            return ScreenStep("", True, decision)
        if decision.all_layers:
            return ScreenStep(self._release(decision.text, len(decision.text) - self.hold_back), self.blocked, decision)
        cut = self._approval_cut()
        if cut is None:
            return ScreenStep("", False, decision)
        approval = await self._check(self.raw[:cut], "approve")
        if approval.blocked:
            self.blocked = True
            return ScreenStep("", True, approval)
        self.approved = cut
        return ScreenStep(self._release(approval.text, len(approval.text) - self.hold_back), self.blocked, approval)

    async def finish(self) -> ScreenStep:
        """The audited decision on the whole answer, and the rest of the text it allows."""
        decision = await self._check(self.raw, "final")
        if decision.blocked or self.blocked:
            self.blocked = True
            return ScreenStep("", True, decision)
        return ScreenStep(self._release(decision.text, len(decision.text)), self.blocked, decision)

    def _approval_cut(self) -> int | None:
        """The end of the text to approve now: the last boundary after what is approved, or all of it
        once ``approve_chars`` arrived past that; None until one of them exists."""
        cut = self.approved
        for match in _BOUNDARY.finditer(self.raw, self.approved):
            cut = match.end()
        if len(self.raw) - cut >= self.approve_chars:
            cut = len(self.raw)
        return cut if cut > self.approved else None

    async def _check(self, text: str, kind: CheckKind) -> PolicyDecision:
        self.checks.append(kind)
        return await self.check(text, kind)

    def _release(self, screened: str, end: int) -> str:
        if not screened.startswith(self.released):
            self.blocked = True  # a decision reaches back into text the client already has
            return ""
        if end <= len(self.released):
            return ""
        new = screened[len(self.released) : end]
        self.released += new
        return new
