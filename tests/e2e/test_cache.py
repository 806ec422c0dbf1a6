"""The response cache on the running service: deterministic requests hit, sampled ones never do."""

from __future__ import annotations

import statistics
import time
import uuid

import httpx
import pytest

pytestmark = pytest.mark.e2e


def timed(client: httpx.Client, body: dict) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = client.post("/v1/chat/completions", json=body)
    return response, time.perf_counter() - started


def test_repeated_greedy_request_is_answered_from_the_cache(client: httpx.Client) -> None:
    misses, hits = [], []
    for _ in range(5):
        body = {
            "messages": [{"role": "user", "content": f"describe product {uuid.uuid4().hex}"}],
            "max_tokens": 32,
            "temperature": 0,
        }
        first, miss_s = timed(client, body)
        second, hit_s = timed(client, body)
        assert first.headers["x-cache"] == "miss" and second.headers["x-cache"] == "hit"
        a, b = first.json(), second.json()
        assert a["id"] != b["id"]
        for field in ("choices", "usage", "prompt_filter_results", "policy_version"):
            assert a[field] == b[field]  # moderation annotations included
        misses.append(miss_s)
        hits.append(hit_s)
    miss_ms, hit_ms = statistics.median(misses) * 1000, statistics.median(hits) * 1000
    print(f"\n[e2e] cache: miss p50 {miss_ms:.1f} ms, hit p50 {hit_ms:.1f} ms (32 tokens, tiny model)")
    assert hit_ms < miss_ms


def test_sampled_requests_without_a_seed_are_never_cached(client: httpx.Client) -> None:
    body = {"messages": [{"role": "user", "content": "surprise me"}], "max_tokens": 4, "temperature": 0.9}
    assert [client.post("/v1/chat/completions", json=body).headers["x-cache"] for _ in range(2)] == ["skip", "skip"]
    seeded = {**body, "seed": 11, "messages": [{"role": "user", "content": f"surprise {uuid.uuid4().hex}"}]}
    assert [client.post("/v1/chat/completions", json=seeded).headers["x-cache"] for _ in range(2)] == ["miss", "hit"]
