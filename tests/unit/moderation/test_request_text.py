"""The input policy's text of a request, and its redactions mapped back onto the request's parts."""

from __future__ import annotations

from PIL import Image

from pipelines.core.types import GenerationRequest, ImagePart, Message, SamplingParams, TextPart
from pipelines.moderation.policy.engine import PolicyDecision
from pipelines.moderation.request_text import redacted_request, request_text


def _request(*messages: Message) -> GenerationRequest:
    return GenerationRequest("r", list(messages), SamplingParams(max_tokens=8))


def _decision(text: str, spans: list[tuple[int, int]], *, blocked: bool = False) -> PolicyDecision:
    return PolicyDecision("v", "input", "redact", blocked, text, {}, redactions=spans, placeholder="[X]")


def test_redactions_land_in_the_parts_they_came_from_across_messages_and_images() -> None:
    image = ImagePart(Image.new("RGB", (4, 4)), "image/png", 10)
    request = _request(
        Message("system", [TextPart("call 555")]),
        Message("user", [image]),  # no text: not part of the checked string
        Message("user", [TextPart("mail a@b"), image, TextPart(".com ok")]),
    )
    text = request_text(request)
    assert text == "call 555\nmail a@b.com ok"
    start = text.index("a@b")
    out = redacted_request(request, _decision(text, [(5, 8), (start, start + len("a@b.com"))]))
    assert request_text(out) == "call [X]\nmail [X][X] ok"  # the span across two parts: each piece replaced
    assert out.messages[1] is request.messages[1] and out.messages[2].parts[1] is image
    assert request_text(request) == text  # the original request is unchanged


def test_no_redaction_or_a_block_leaves_the_request_as_it_is() -> None:
    request = _request(Message("user", [TextPart("hello")]))
    assert redacted_request(request, _decision("hello", [])) is request
    assert redacted_request(request, _decision("withheld", [(0, 5)], blocked=True)) is request
