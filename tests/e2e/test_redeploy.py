"""Redeploys under load, then a stop: in-flight requests and streams are drained, none dropped.
(The stop ends the session's service: it is marked ``stops_service``, which runs last.)"""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from devtools.service import Service
from tests.e2e.conftest import API_KEY, LONG_TOKENS

pytestmark = pytest.mark.e2e

HEADERS = {"authorization": f"Bearer {API_KEY}"}


class Traffic:
    """Plain and streamed requests in a loop on two threads; records every outcome."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.plain: list[int] = []
        self.streams: list[str] = []  # "ok" when a stream ended with [DONE] after a finish_reason
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._plain), threading.Thread(target=self._stream)]

    def __enter__(self) -> Traffic:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=120)

    def _body(self, stream: bool) -> dict:
        text = f"Describe item {uuid.uuid4().hex[:8]}."
        return {"messages": [{"role": "user", "content": text}], "max_tokens": 24, "temperature": 0, "stream": stream}

    def _plain(self) -> None:
        with httpx.Client(base_url=self.base_url, headers=HEADERS, timeout=120) as c:
            while not self.stop.is_set():
                try:
                    self.plain.append(c.post("/v1/chat/completions", json=self._body(False)).status_code)
                except httpx.HTTPError as exc:
                    self.plain.append(-1)
                    print(f"[e2e] plain request error: {exc!r}")

    def _stream(self) -> None:
        with httpx.Client(base_url=self.base_url, headers=HEADERS, timeout=120) as c:
            while not self.stop.is_set():
                self.streams.append(self._one_stream(c))

    def _one_stream(self, c: httpx.Client) -> str:
        try:
            with c.stream("POST", "/v1/chat/completions", json=self._body(True)) as response:
                if response.status_code != 200:
                    return f"status {response.status_code}"
                events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
        except httpx.HTTPError as exc:
            return f"error {exc!r}"
        finished = any(
            e != "[DONE]" and json.loads(e).get("choices") and json.loads(e)["choices"][0].get("finish_reason")
            for e in events
        )
        return "ok" if events and events[-1] == "[DONE]" and finished else f"incomplete {events[-2:]}"


def _changed(service: Service, out: Path, change: dict[str, dict]) -> Path:
    config = yaml.safe_load(service.config.read_text())
    for deployment in config["applications"][0]["deployments"]:
        for key, value in change.get(deployment["name"], {}).items():
            if key == "user_config":
                deployment.setdefault("user_config", {}).update(value)
            else:
                deployment[key] = value
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def test_user_config_changes_and_a_replica_replacing_redeploy_under_load_drop_nothing(
    service: Service, tmp_path: Path
) -> None:
    changes = [
        {"VLM": {"user_config": {"max_batch_size": 4, "batch_wait_timeout_s": 0.01}}},
        {"Validator": {"user_config": {"max_prompt_chars": 20000}}},
        # not a user_config change: Serve starts new Validator replicas and drains the old one
        {"Validator": {"ray_actor_options": {"num_cpus": 0.11}}},
    ]
    with Traffic(service.base_url) as traffic:
        time.sleep(2)
        for i, change in enumerate(changes):
            service.deploy(_changed(service, tmp_path / f"step{i}.yaml", change))
            time.sleep(8)
    print(
        f"\n[e2e] redeploys under load: {len(traffic.plain)} plain requests {sorted(set(traffic.plain))}, "
        f"{len(traffic.streams)} streams, not ok: {[s for s in traffic.streams if s != 'ok'][:3]}"
    )
    assert traffic.plain and set(traffic.plain) == {200}
    assert traffic.streams and set(traffic.streams) == {"ok"}


@pytest.mark.stops_service
def test_stopping_the_service_drains_in_flight_requests_and_streams(service: Service, long_prompt: str) -> None:
    """SIGTERM to the launcher (``docker stop``; Ctrl-C and ``make stop`` run the same drain): streams
    and requests running when the drain begins are finished, new ones get 503 shutting_down."""
    streams: list[tuple[str, float]] = []
    plains: list[tuple[int | str, float]] = []
    started = threading.Barrier(3)  # the two streams and this test

    def body(i: int) -> dict:  # a different max_tokens each: four cache keys, four generations
        return {"messages": [{"role": "user", "content": long_prompt}], "max_tokens": LONG_TOKENS - i, "temperature": 0}

    def stream(i: int) -> None:
        with httpx.Client(base_url=service.base_url, headers=HEADERS, timeout=120) as c:
            try:
                with c.stream("POST", "/v1/chat/completions", json={**body(i), "stream": True}) as response:
                    lines = response.iter_lines()
                    first = next(lines)  # the role chunk: this stream is in flight
                    started.wait()
                    events = [first[6:]] + [line[6:] for line in lines if line.startswith("data: ")]
                ok = events[-1] == "[DONE]" and any('"finish_reason":"length"' in e for e in events[-3:])
                streams.append(("ok" if ok else f"cut {events[-2:]}", time.perf_counter()))
            except httpx.HTTPError as exc:
                streams.append((f"error {exc!r}", time.perf_counter()))

    def plain(i: int) -> None:
        with httpx.Client(base_url=service.base_url, headers=HEADERS, timeout=120) as c:
            try:
                plains.append((c.post("/v1/chat/completions", json=body(i)).status_code, time.perf_counter()))
            except httpx.HTTPError as exc:
                plains.append((f"error {exc!r}", time.perf_counter()))

    threads = [threading.Thread(target=stream, args=(i,)) for i in (0, 1)]
    threads += [threading.Thread(target=plain, args=(i,)) for i in (2, 3)]
    for t in threads:
        t.start()
    started.wait(timeout=60)  # both streams are running (the plain requests were sent alongside)
    assert service.proc is not None
    began = time.perf_counter()
    service.proc.send_signal(signal.SIGTERM)
    while "ingress draining" not in service.log.read_text(errors="replace"):
        assert time.perf_counter() - began < 60, service.tail()
        time.sleep(0.05)
    draining = time.perf_counter()
    refused = httpx.post(f"{service.base_url}/v1/chat/completions", headers=HEADERS, json=body(4), timeout=30)
    ready = httpx.get(f"{service.base_url}/readyz", timeout=30)
    for t in threads:
        t.join(timeout=120)
    exit_code = service.proc.wait(timeout=120)
    took = time.perf_counter() - began
    print(
        f"\n[e2e] SIGTERM with 2 streams and 2 requests in flight: draining {draining - began:.1f} s after it, "
        f"they finished after {[round(t - began, 1) for _, t in streams + plains]} s, stopped in {took:.1f} s"
    )
    assert [s for s, _ in streams] == ["ok", "ok"]
    assert [p for p, _ in plains] == [200, 200]
    # all four were still running when the drain began: the drain, not luck, let them finish
    assert all(t > draining for _, t in streams + plains)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "shutting_down"
    assert refused.headers["retry-after"]
    assert ready.status_code == 503 and ready.json()["status"] == "draining"
    assert exit_code == 0, service.tail()
