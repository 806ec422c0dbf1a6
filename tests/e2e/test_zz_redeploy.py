"""Redeploys under load, then shutdown: in-flight requests and streams are drained, none dropped.
(Named to run last: the shutdown ends the session's service.)"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from tests.e2e.conftest import API_KEY
from tests.e2e.service import ROOT, SERVE_BIN, Service

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


@pytest.mark.xfail(
    strict=False,
    reason="Ray 2.60's `serve shutdown` does not reliably drain: in 1 of 4 runs on 2026-11-25 it cut both "
    "in-flight streams and both requests after 10.5 s; recorded, not yet fixed (issue 7 stays open)",
)
def test_serve_shutdown_drains_in_flight_requests_and_streams(service: Service, long_prompt: str) -> None:
    """Requests and streams already running when `serve shutdown` starts are finished, not cut."""
    body = {"messages": [{"role": "user", "content": long_prompt}], "max_tokens": 300, "temperature": 0}
    streams: list[str] = []
    plains: list[int | str] = []
    started = threading.Barrier(3)  # the two streams and this test

    def stream() -> None:
        with httpx.Client(base_url=service.base_url, headers=HEADERS, timeout=120) as c:
            try:
                with c.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
                    lines = response.iter_lines()
                    first = next(lines)  # the role chunk: this stream is in flight
                    started.wait()
                    events = [first[6:]] + [line[6:] for line in lines if line.startswith("data: ")]
                streams.append("ok" if events[-1] == "[DONE]" and '"finish_reason":"' in events[-2] else "cut")
            except httpx.HTTPError as exc:
                streams.append(f"error {exc!r}")

    def plain() -> None:
        with httpx.Client(base_url=service.base_url, headers=HEADERS, timeout=120) as c:
            try:
                plains.append(c.post("/v1/chat/completions", json=body).status_code)
            except httpx.HTTPError as exc:
                plains.append(f"error {exc!r}")

    threads = [threading.Thread(target=stream) for _ in range(2)] + [threading.Thread(target=plain) for _ in range(2)]
    for t in threads:
        t.start()
    started.wait(timeout=60)  # both streams are running (the plain requests were sent alongside)
    time.sleep(0.3)
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    began = time.perf_counter()
    done = subprocess.run(
        [str(SERVE_BIN), "shutdown", "--yes"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    took = time.perf_counter() - began
    for t in threads:
        t.join(timeout=120)
    print(f"\n[e2e] serve shutdown with 2 streams and 2 requests in flight: {took:.1f} s; {streams} {plains}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert streams == ["ok", "ok"]
    assert plains == [200, 200]
