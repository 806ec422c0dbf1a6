"""Structured logs: every replica writes JSON lines, and a request's lines carry its request id."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import API_KEY

pytestmark = pytest.mark.e2e


def ray_temp_dir() -> Path:
    """Where Ray keeps its sessions: ``$RAY_TMPDIR/ray`` (CI sets it), else ``$TMPDIR/ray`` on Linux,
    else ``/tmp/ray``, as Ray itself decides."""
    base = os.environ.get("RAY_TMPDIR") or (os.environ.get("TMPDIR") if sys.platform.startswith("linux") else None)
    return Path(base or "/tmp") / "ray"


SERVE_LOGS = ray_temp_dir() / "session_latest" / "logs" / "serve"
DEPLOYMENTS = {f"qwen-vl_{name}" for name in ("Ingress", "Validator", "PolicyFilter", "VLM")}


def replica_lines() -> list[dict]:
    lines = []
    for path in SERVE_LOGS.glob("replica_qwen-vl_*.log"):
        for raw in path.read_text(errors="replace").splitlines():
            if raw.strip():
                lines.append(json.loads(raw))  # every line is JSON
    return lines


def test_a_request_is_traceable_through_every_deployment_by_its_id(client: httpx.Client) -> None:
    client_id = f"e2e-logs-{uuid.uuid4().hex[:12]}"
    body = {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 2}
    response = client.post("/v1/chat/completions", json=body, headers={"x-request-id": client_id})
    # the service's own id; the client's comes back apart and is logged beside ours, once
    request_id = response.headers["x-request-id"]
    assert response.status_code == 200 and request_id != client_id
    assert response.headers["x-client-request-id"] == client_id
    deadline = time.perf_counter() + 30
    seen: set[str] = set()
    while time.perf_counter() < deadline and seen != DEPLOYMENTS:
        seen = {line.get("deployment") for line in replica_lines() if line.get("request_id") == request_id}
        time.sleep(0.5)
    assert seen == DEPLOYMENTS
    mine = [line for line in replica_lines() if line.get("request_id") == request_id]
    assert all({"levelname", "asctime", "message", "replica"} <= set(line) for line in mine)
    assert [line.get("deployment") for line in mine if client_id in line["message"]] == ["qwen-vl_Ingress"]


def test_api_keys_never_reach_the_replica_logs(client: httpx.Client) -> None:
    lines = replica_lines()
    assert lines, f"no replica logs under {SERVE_LOGS}"
    assert all(API_KEY not in json.dumps(line) for line in lines)
