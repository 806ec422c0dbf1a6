"""Reliability under load and faults, against the running service (loopback only, bounded in time).

Every scenario prints what was sent, served, shed and failed, and how long recovery took; the
numbers go into the closing notes and bench/RESULTS.md.
"""

from __future__ import annotations

import asyncio
import signal
import statistics
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest

from devtools.service import Service
from tests.e2e.conftest import API_KEY

pytestmark = pytest.mark.e2e

CLIENT_TIMEOUT_S = 70.0  # above the ingress deadline (50 s) and below the proxy's 408 (60 s) + margin
RECOVERY_LIMIT_S = 90.0
CONSECUTIVE_OK = 5


@dataclass
class Outcome:
    request_id: str
    status: int  # 0: no HTTP answer (connection error or client timeout)
    seconds: float
    ok_body: bool = True


@dataclass
class LoadRun:
    outcomes: list[Outcome] = field(default_factory=list)

    def counts(self) -> Counter:
        return Counter(o.status for o in self.outcomes)

    def summary(self, name: str) -> str:
        served = [o.seconds for o in self.outcomes if o.status == 200]
        p99 = sorted(served)[max(0, round(0.99 * (len(served) - 1)))] if served else float("nan")
        longest = max((o.seconds for o in self.outcomes), default=0.0)
        return (
            f"[e2e] {name}: sent {len(self.outcomes)}, statuses {dict(sorted(self.counts().items()))}, "
            f"p50 served {statistics.median(served) * 1000 if served else float('nan'):.0f} ms, "
            f"p99 served {p99 * 1000:.0f} ms, longest wait {longest:.1f} s"
        )


def chat_body(max_tokens: int) -> dict:
    return {
        "messages": [{"role": "user", "content": f"Describe product {uuid.uuid4().hex[:8]} briefly."}],
        "max_tokens": max_tokens,
        "temperature": 0,
    }


async def open_loop(base_url: str, rate: float, duration_s: float, max_tokens: int, run: LoadRun) -> None:
    """Requests at a fixed rate whatever the answers take (an overloaded client does not slow down)."""
    headers = {"authorization": f"Bearer {API_KEY}"}
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=CLIENT_TIMEOUT_S, limits=limits) as c:

        async def one() -> None:
            request_id = f"load-{uuid.uuid4().hex[:16]}"
            started = time.perf_counter()
            try:
                response = await c.post(
                    "/v1/chat/completions", json=chat_body(max_tokens), headers={"x-request-id": request_id}
                )
            except httpx.HTTPError:
                run.outcomes.append(Outcome(request_id, 0, time.perf_counter() - started))
                return
            elapsed = time.perf_counter() - started
            ok_body = True
            if response.status_code == 200:
                choice = response.json()["choices"][0]
                ok_body = isinstance(choice["message"]["content"], str) and choice["finish_reason"] is not None
            else:
                error = response.json()["error"]
                ok_body = bool(error["message"] and error["code"] and error["request_id"])
                if response.status_code in (429, 503):
                    ok_body = ok_body and response.headers.get("retry-after", "").isdigit()
            # the audit key is the service's own id, not the one this client sent
            served_id = response.headers.get("x-request-id", request_id)
            run.outcomes.append(Outcome(served_id, response.status_code, elapsed, ok_body))

        tasks = []
        started = time.perf_counter()
        sent = 0
        while (elapsed := time.perf_counter() - started) < duration_s:
            due = int(elapsed * rate) + 1
            while sent < due:
                tasks.append(asyncio.create_task(one()))
                sent += 1
            await asyncio.sleep(1 / rate / 2)
        await asyncio.gather(*tasks)


def rss_by_deployment(service: Service) -> dict[str, int]:
    return {
        name: sum(p.memory_info().rss for p in service.replica_processes(name))
        for name in ("Ingress", "Validator", "PolicyFilter", "VLM")
    }


def test_load_above_capacity_every_request_answered_and_memory_flat(service: Service) -> None:
    """~2x the tiny model's capacity for 20 s: every request gets 200, 503 or 504, none hangs."""
    warm = LoadRun()
    asyncio.run(open_loop(service.base_url, rate=10, duration_s=4, max_tokens=32, run=warm))
    before = rss_by_deployment(service)
    run = LoadRun()
    asyncio.run(open_loop(service.base_url, rate=45, duration_s=20, max_tokens=32, run=run))
    after = rss_by_deployment(service)
    print("\n" + run.summary("load 45 req/s x 20 s, 32 tokens"))
    print(
        "[e2e] replica RSS MiB before -> after: "
        + ", ".join(f"{k} {before[k] / 2**20:.0f} -> {after[k] / 2**20:.0f}" for k in before)
    )
    assert set(run.counts()) <= {200, 503, 504}, run.counts()
    assert run.counts()[200] > 0
    assert all(o.ok_body for o in run.outcomes)
    assert max(o.seconds for o in run.outcomes) < CLIENT_TIMEOUT_S
    for name in before:  # no leak: allow allocator noise, not growth with traffic
        assert after[name] - before[name] < 150 * 2**20, (name, before[name], after[name])


@pytest.mark.parametrize("deployment", ["Validator", "PolicyFilter", "VLM"])
def test_replica_killed_under_load_recovers_and_loses_no_audit_record(
    service: Service, client: httpx.Client, admin: httpx.Client, deployment: str
) -> None:
    run = LoadRun()
    loader = threading.Thread(
        target=lambda: asyncio.run(open_loop(service.base_url, rate=6, duration_s=12, max_tokens=16, run=run))
    )
    loader.start()
    time.sleep(3)
    (replica,) = service.replica_processes(deployment)
    replica.send_signal(signal.SIGKILL)
    killed = time.perf_counter()
    loader.join()
    recovered = _recovery_time(client, killed)
    print(
        "\n" + run.summary(f"SIGKILL {deployment} under 6 req/s") + f", back to {CONSECUTIVE_OK} straight "
        f"successes {recovered:.1f} s after the kill"
    )
    assert set(run.counts()) <= {200, 503}, run.counts()  # in-flight requests fail fast and clearly
    assert all(o.ok_body for o in run.outcomes)  # never a silent empty 200
    assert recovered < RECOVERY_LIMIT_S
    served = {o.request_id for o in run.outcomes if o.status == 200}
    missing = _missing_audit(admin, served)
    assert not missing, f"{len(missing)} completed requests have no audit record"


def _recovery_time(client: httpx.Client, since: float) -> float:
    streak = 0
    deadline = since + RECOVERY_LIMIT_S
    while time.perf_counter() < deadline:
        try:
            ok = client.post("/v1/chat/completions", json=chat_body(4), timeout=30).status_code == 200
        except httpx.HTTPError:
            ok = False
        streak = streak + 1 if ok else 0
        if streak >= CONSECUTIVE_OK:
            return time.perf_counter() - since
        time.sleep(0.2 if ok else 0.5)
    return float("inf")


def _missing_audit(admin: httpx.Client, request_ids: set[str]) -> set[str]:
    """Completed requests without both their input and output decisions in the audit log."""
    missing = set(request_ids)
    deadline = time.perf_counter() + 60
    while missing and time.perf_counter() < deadline:
        for request_id in sorted(missing):
            page = admin.get("/v1/moderation/decisions", params={"request_id": request_id}).json()
            if {r["direction"] for r in page["data"]} == {"input", "output"}:
                missing.discard(request_id)
        if missing:
            time.sleep(1)
    return missing
