"""Backpressure: a full queue answers fast 503s with Retry-After instead of growing without bound."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
import yaml

from devtools.service import Service

pytestmark = pytest.mark.e2e

CONCURRENT = 12
RECOVERY_TIMEOUT_S = 180.0


def _vlm_limits(service: Service, out: Path, max_ongoing: int | None, max_queued: int | None) -> Path:
    config = yaml.safe_load(service.config.read_text())
    for deployment in config["applications"][0]["deployments"]:
        if deployment["name"] == "VLM":
            if max_ongoing is not None:
                deployment["max_ongoing_requests"] = max_ongoing
                deployment["user_config"]["max_batch_size"] = max_ongoing
            if max_queued is not None:
                deployment["max_queued_requests"] = max_queued
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def test_full_vlm_queue_answers_503_with_retry_after(service: Service, client: httpx.Client, tmp_path: Path) -> None:
    service.deploy(_vlm_limits(service, tmp_path / "tight.yaml", max_ongoing=1, max_queued=1))
    try:
        _wait_until_answering(client)

        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=service.base_url, headers=client.headers, timeout=120) as c:
                body = {"messages": [{"role": "user", "content": "tell me a long story"}], "max_tokens": 48}
                return await asyncio.gather(*(c.post("/v1/chat/completions", json=body) for _ in range(CONCURRENT)))

        started = time.perf_counter()
        responses = asyncio.run(burst())
        elapsed = time.perf_counter() - started
    finally:
        service.deploy(service.config)
    statuses = [r.status_code for r in responses]
    shed = [r for r in responses if r.status_code == 503]
    print(f"\n[e2e] overload burst of {CONCURRENT}: {statuses.count(200)} served, {len(shed)} shed, {elapsed:.1f}s")
    assert set(statuses) <= {200, 503}
    assert shed and statuses.count(200) >= 1
    for response in shed:
        assert response.headers["retry-after"].isdigit()
        error = response.json()["error"]
        assert error["code"] == "overloaded" and error["request_id"] == response.headers["x-request-id"]
    _wait_until_answering(client)


def _wait_until_answering(client: httpx.Client) -> None:
    deadline = time.perf_counter() + RECOVERY_TIMEOUT_S
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    while time.perf_counter() < deadline:
        try:
            if client.post("/v1/chat/completions", json=body, timeout=30).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError("service did not answer after the redeploy")
