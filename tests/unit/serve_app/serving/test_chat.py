"""ChatService with in-process backends: the moderation order, responses, failures (no cluster)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from pipelines.cache import MemoryCache
from pipelines.core.errors import NotFoundError, OverloadedError
from serve_app.api.gateway import Gateway
from serve_app.api.protocol import ChatCompletionRequest, LegacyGenerateRequest
from tests.unit.serve_app.fakes import BLOCKED_TERM, FakeModel, FakePolicy, FakeValidator


def chat_body(text: str, **fields: object) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"messages": [{"role": "user", "content": text}], **fields})


def run(coro):
    return asyncio.run(coro)


def test_an_answer_is_screened_and_reported_with_both_decisions(gateway: Callable[..., Gateway]) -> None:
    outcome = run(gateway().chat.chat(chat_body("Describe a tote bag."), "rid-1"))
    response = outcome.response
    assert response.id == "chatcmpl-rid-1"
    assert response.choices[0].message.content == FakeModel().answer
    assert response.choices[0].finish_reason == "stop"
    assert set(response.choices[0].content_filter_results) >= {"sexual", "spam", "pii"}
    assert response.prompt_filter_results[0].content_filter_results["spam"].detected is False
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens
    assert outcome.cache == "skip"


def test_a_blocked_input_never_reaches_the_model(gateway: Callable[..., Gateway], model: FakeModel) -> None:
    outcome = run(gateway().chat.chat(chat_body("where can I find child porn"), "rid-2"))
    choice = outcome.response.choices[0]
    assert model.seen == []
    assert choice.finish_reason == "content_filter"
    assert outcome.response.prompt_filter_results[0].content_filter_results["sexual/minors"].filtered
    assert choice.message.content == FakePolicy().moderator.policy.block_message


def test_a_blocked_output_is_replaced_and_a_pii_output_redacted(
    gateway: Callable[..., Gateway], model: FakeModel
) -> None:
    model.answer = f"Sure, the secret word is {BLOCKED_TERM}."
    blocked = run(gateway().chat.chat(chat_body("Tell me the word."), "rid-3")).response.choices[0]
    assert blocked.finish_reason == "content_filter" and BLOCKED_TERM not in blocked.message.content
    model.answer = "Write to jane.doe@example.com for a refund."
    redacted = run(gateway().chat.chat(chat_body("How do I get a refund?"), "rid-4")).response.choices[0]
    assert redacted.message.content == "Write to [REDACTED] for a refund."
    assert redacted.content_filter_results["pii"].filtered and redacted.finish_reason == "stop"


def test_the_input_check_sees_every_text_the_caller_wrote(
    gateway: Callable[..., Gateway], policy_backend: FakePolicy
) -> None:
    body = ChatCompletionRequest.model_validate(
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "add wechat shop8899"}]}
    )
    outcome = run(gateway().chat.chat(body, "rid-5"))
    assert policy_backend.checks[-2] == ("input", "Be brief.\nadd wechat shop8899", False)
    assert outcome.response.prompt_filter_results[0].content_filter_results["spam"].detected


def test_unknown_model_and_model_failures_raise_their_typed_errors(
    gateway: Callable[..., Gateway], model: FakeModel
) -> None:
    with pytest.raises(NotFoundError) as missing:
        run(gateway().chat.chat(chat_body("hi", model="gpt-9"), "rid-6"))
    assert missing.value.param == "model" and missing.value.code == "model_not_found"
    model.error = OverloadedError("out of memory", code="out_of_memory")
    with pytest.raises(OverloadedError):
        run(gateway().chat.chat(chat_body("hi"), "rid-7"))


def test_the_request_deadline_is_set_from_the_ingress_settings(
    gateway: Callable[..., Gateway], model: FakeModel
) -> None:
    before = time.time()
    run(gateway(request_deadline_s=7.5).chat.chat(chat_body("hi"), "rid-8"))
    assert model.seen[-1].deadline is not None and before + 7.0 < model.seen[-1].deadline <= time.time() + 7.5


def test_the_legacy_body_gets_both_summaries(gateway: Callable[..., Gateway]) -> None:
    body = LegacyGenerateRequest.model_validate({"prompt": "Is this bag real leather?", "max_tokens": 8})
    response, batch_size = run(gateway().chat.legacy(body, "rid-9"))
    assert response.text == FakeModel().answer and response.finish_reason == "stop" and batch_size == 1
    assert set(response.moderation) == {"input", "output"}
    assert response.moderation["input"].action == "allow"


def test_a_cache_hit_is_screened_again_and_a_policy_change_misses(model: FakeModel) -> None:
    """What a cache returns has passed the output policy in force now, and is audited under the new
    request's id; an entry written under another effective policy (digest) is never read."""
    policy = FakePolicy()
    policy.moderator.policy_digest = "policy-a"
    cache = MemoryCache(max_entries=16, ttl_s=60)
    gw = Gateway(
        validator=FakeValidator(),
        model=model,
        policy=policy,
        model_name="qwen3-vl-test",
        moderation_model="policy-test",
        model_version="fake@1",
        cache=cache,
    )
    body = chat_body("Describe a tote bag.", temperature=0)
    assert run(gw.chat.chat(body, "rid-a")).cache == "miss"
    policy.checks.clear()
    hit = run(gw.chat.chat(body, "rid-b"))
    assert hit.cache == "hit" and hit.response.id == "chatcmpl-rid-b"
    assert ("output", FakeModel().answer, False) in policy.checks  # screened (and audited) again
    assert len(model.seen) == 1

    # an entry that would not pass today's output policy (a tampered shared cache) is a miss
    [key] = list(cache._entries)
    forged = hit.response.model_copy(deep=True)
    forged.choices[0].message.content = f"psst: {BLOCKED_TERM}"
    cache.set(key, forged.model_dump_json().encode())
    again = run(gw.chat.chat(body, "rid-c"))
    assert again.cache == "miss" and BLOCKED_TERM not in again.response.choices[0].message.content
    assert len(model.seen) == 2

    policy.moderator.policy_digest = "policy-b"  # e.g. an extra term added at run time
    assert run(gw.chat.chat(body, "rid-d")).cache == "miss" and len(model.seen) == 3
