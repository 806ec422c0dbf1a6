"""A request's text as the input policy reads it, and the policy's redactions put back into the request.

The input policy decides on one string (every message's text, joined by newlines); ``input: redact``
must change what the model sees, so the redactions of that string are mapped back onto the text
parts they came from. A redaction that spans two parts is cut at the boundary, each piece replaced.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from pipelines.core.types import GenerationRequest, Message, TextPart
from pipelines.moderation.policy.engine import PolicyDecision, redact

MESSAGE_SEPARATOR = "\n"


def request_text(request: GenerationRequest) -> str:
    """Everything the caller wrote (system, user and earlier assistant turns), for the input policy."""
    return MESSAGE_SEPARATOR.join(m.text for m in request.messages if m.text)


def redacted_request(request: GenerationRequest, decision: PolicyDecision) -> GenerationRequest:
    """``request`` with ``decision``'s redactions (made on ``request_text(request)``) applied to its text parts."""
    if decision.blocked or not decision.redactions:
        return request
    offset = 0
    messages: list[Message] = []
    for message in request.messages:
        if not message.text:
            messages.append(message)
            continue
        parts = []
        for part in message.parts:
            if isinstance(part, TextPart):
                parts.append(TextPart(_redact_at(part.text, offset, decision.redactions, decision.placeholder)))
                offset += len(part.text)
            else:
                parts.append(part)
        messages.append(dataclasses.replace(message, parts=parts))
        offset += len(MESSAGE_SEPARATOR)
    return dataclasses.replace(request, messages=messages)


def _redact_at(text: str, offset: int, spans: Sequence[tuple[int, int]], placeholder: str) -> str:
    """``text``, found at ``offset`` of the checked string, with the spans that reach into it redacted."""
    local = [
        (max(start - offset, 0), min(end - offset, len(text)))
        for start, end in spans
        if start < offset + len(text) and end > offset
    ]
    return redact(text, local, placeholder) if local else text
