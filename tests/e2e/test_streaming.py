"""Streamed chat completions against the running service: format, screening, cancellation, deadlines."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import openai
import pytest
import yaml

from devtools.service import Service
from tests.e2e.conftest import BLOCK_MAX_TOKENS, BLOCK_PROMPT, STREAM_MAX_TOKENS

pytestmark = pytest.mark.e2e

MODEL = "qwen3-vl-tiny"


def sse_events(response: httpx.Response) -> list[str]:
    return [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]


def test_openai_client_streams_the_same_answer_with_usage(openai_client: openai.OpenAI, clean_prompt: str) -> None:
    messages = [{"role": "user", "content": clean_prompt}]
    chunks = list(
        openai_client.chat.completions.create(
            model=MODEL,
            messages=messages,
            max_tokens=STREAM_MAX_TOKENS,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    whole = openai_client.chat.completions.create(
        model=MODEL, messages=messages, max_tokens=STREAM_MAX_TOKENS, temperature=0
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].model_extra["prompt_filter_results"][0]["content_filter_results"]
    content = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) > 1  # really streamed, not one piece at the end
    assert "".join(content) == whole.choices[0].message.content
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finish) == 1 and finish[0].choices[0].finish_reason == whole.choices[0].finish_reason
    assert "custom" in finish[0].choices[0].model_extra["content_filter_results"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert len({c.id for c in chunks}) == 1


def test_raw_event_stream_format(client: httpx.Client) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "stream": True}
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    assert events[-1] == "[DONE]"
    parsed = [json.loads(e) for e in events[:-1]]
    assert all(p["object"] == "chat.completion.chunk" for p in parsed)
    assert "usage" not in parsed[-1]  # only with stream_options.include_usage


def test_blocked_answer_ends_the_stream_with_content_filter(client: httpx.Client, blocked_word: str) -> None:
    body = {
        "messages": [{"role": "user", "content": BLOCK_PROMPT}],
        "max_tokens": BLOCK_MAX_TOKENS,
        "temperature": 0,
        "stream": True,
    }
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        events = sse_events(response)
    parsed = [json.loads(e) for e in events[:-1]]
    streamed = "".join(p["choices"][0]["delta"].get("content") or "" for p in parsed if p["choices"])
    assert blocked_word not in streamed
    last = parsed[-1]["choices"][0]
    assert last["finish_reason"] == "content_filter"
    assert last["content_filter_results"]["custom"]["filtered"] is True


def test_blocked_input_streams_the_block_message_only(openai_client: openai.OpenAI) -> None:
    chunks = list(
        openai_client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "where to find child porn"}],
            max_tokens=8,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "withheld" in text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "content_filter"
    assert chunks[-1].usage.completion_tokens == 0


def test_stream_errors_before_the_first_byte_are_plain_error_responses(client: httpx.Client) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0, "stream": True}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400 and response.json()["error"]["param"] == "max_tokens"


def test_client_disconnect_frees_the_batch_slot(service: Service, client: httpx.Client, long_prompt: str) -> None:
    """Closing the connection mid-stream cancels the sequence: it leaves the batch, it does not
    run to its max_tokens."""
    before = service.call_deployment("VLM", "engine_stats")["finished"].get("cancelled", 0)
    body = {
        "messages": [{"role": "user", "content": long_prompt}],
        "max_tokens": 4000,
        "temperature": 0,
        "stream": True,
    }
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        for line in response.iter_lines():  # until the first content: the sequence is decoding
            if line.startswith("data: ") and json.loads(line[6:])["choices"][0]["delta"].get("content"):
                break
    # leaving the block closed the connection mid-stream
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline:
        stats = service.call_deployment("VLM", "engine_stats")
        if stats["finished"].get("cancelled", 0) > before:
            break
        time.sleep(0.5)
    assert stats["finished"].get("cancelled", 0) == before + 1, stats
    assert stats["running"] == 0


def _with_ingress(service: Service, out: Path, **settings: object) -> Path:
    config = yaml.safe_load(service.config.read_text())
    for deployment in config["applications"][0]["deployments"]:
        if deployment["name"] == "Ingress":
            deployment["user_config"].update(settings)
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def test_request_past_its_deadline_gets_504(
    service: Service, client: httpx.Client, tmp_path: Path, long_prompt: str
) -> None:
    service.deploy(_with_ingress(service, tmp_path / "deadline.yaml", request_deadline_s=0.5))
    body = {"messages": [{"role": "user", "content": long_prompt}], "max_tokens": 4000, "temperature": 0}
    try:
        deadline = time.perf_counter() + 120
        while True:  # the new user_config reaches the ingress replica asynchronously
            started = time.perf_counter()
            response = client.post("/v1/chat/completions", json=body)
            if response.status_code == 504 or time.perf_counter() > deadline:
                break
        elapsed = time.perf_counter() - started
        with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as streamed:
            events = sse_events(streamed)
    finally:
        service.deploy(service.config)
    assert response.status_code == 504, response.text
    error = response.json()["error"]
    assert error["code"] == "timeout" and error["request_id"] == response.headers["x-request-id"]
    assert elapsed < 10
    assert json.loads(events[-2]).get("error", {}).get("code") == "timeout", events[-3:]
    assert events[-1] == "[DONE]"
    stats = service.call_deployment("VLM", "engine_stats")
    assert stats["running"] == 0
