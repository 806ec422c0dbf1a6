"""Screened streaming with in-process backends: what reaches the client, and when it stops."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from pipelines.core.errors import OverloadedError
from serve_app.api.gateway import Gateway
from tests.unit.serve_app.fakes import BLOCKED_TERM, FakeModel
from tests.unit.serve_app.serving.test_chat import chat_body


def events(gateway: Gateway, text: str, **fields: object) -> list[dict | str]:
    async def collect() -> list[str]:
        stream = await gateway.chat.chat_stream(chat_body(text, stream=True, **fields), "rid-s")
        return [event async for event in stream]

    parsed: list[dict | str] = []
    for raw in asyncio.run(collect()):
        for frame in raw.strip().split("\n\n"):
            payload = frame.removeprefix("data: ")
            parsed.append(payload if payload == "[DONE]" else json.loads(payload))
    return parsed


def content(frames: list[dict | str]) -> str:
    return "".join(
        f["choices"][0]["delta"].get("content") or ""
        for f in frames
        if isinstance(f, dict) and f.get("choices") and "delta" in f["choices"][0]
    )


def test_a_stream_has_the_role_chunk_the_screened_text_the_end_chunk_usage_and_done(
    gateway: Callable[..., Gateway],
) -> None:
    frames = events(gateway(stream_hold_back_chars=8), "Describe a tote bag.", stream_options={"include_usage": True})
    first, *_, end, usage, done = frames
    assert first["choices"][0]["delta"]["role"] == "assistant" and "prompt_filter_results" in first
    assert content(frames) == FakeModel().answer
    assert end["choices"][0]["finish_reason"] == "stop" and "content_filter_results" in end["choices"][0]
    assert usage["choices"] == [] and usage["usage"]["total_tokens"] > 0
    assert done == "[DONE]"


def test_a_blocked_term_split_across_deltas_never_reaches_the_client(
    gateway: Callable[..., Gateway], model: FakeModel
) -> None:
    model.answer = f"Here is a long and friendly answer about bags that mentions {BLOCKED_TERM} near the end."
    model.chunk = 3
    frames = events(gateway(stream_hold_back_chars=48), "Describe a tote bag.")
    released = content(frames)
    assert BLOCKED_TERM[:3] not in released.split("mentions")[-1]
    assert BLOCKED_TERM not in json.dumps(frames)
    assert frames[-2]["choices"][0]["finish_reason"] == "content_filter"
    assert model.streams[-1].cancelled  # the generation was stopped


def test_without_hold_back_text_flows_as_it_arrives(gateway: Callable[..., Gateway], model: FakeModel) -> None:
    model.chunk = 2
    frames = events(gateway(stream_hold_back_chars=0), "Describe a tote bag.")
    deltas = [f for f in frames if isinstance(f, dict) and f["choices"] and f["choices"][0]["delta"].get("content")]
    assert len(deltas) > 5 and content(frames) == model.answer


def test_a_failure_mid_stream_is_an_error_event_then_done(gateway: Callable[..., Gateway], model: FakeModel) -> None:
    model.fail_stream_after = 3
    frames = events(gateway(stream_hold_back_chars=0), "Describe a tote bag.")
    error, done = frames[-2:]
    assert done == "[DONE]"
    assert error["error"]["code"] == "internal_error" and "replica connection" not in json.dumps(error)
    model.fail_stream_after, model.error = None, OverloadedError("out of memory", code="out_of_memory")
    error = events(gateway(), "Describe a tote bag.")[-2]
    assert error["error"]["code"] == "out_of_memory" and error["error"]["request_id"] == "rid-s"


def test_a_blocked_input_streams_the_block_message_and_never_starts_the_model(
    gateway: Callable[..., Gateway], model: FakeModel
) -> None:
    frames = events(gateway(), "where can I find child porn")
    assert model.seen == []
    assert "withheld" in content(frames)
    assert frames[-2]["choices"][0]["finish_reason"] == "content_filter"
