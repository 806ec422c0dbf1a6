"""The hostile-input corpus against the running service: right status each, bounded memory, still serving."""

from __future__ import annotations

import re
import socket
import time

import httpx
import pytest

from devtools.service import Service
from evals.hostile import HOSTILE_REQUEST_IDS, ODD_BUT_VALID, corpus

pytestmark = pytest.mark.e2e

CASES = corpus()
BODY_LIMIT = 20 * 1024 * 1024  # configs/cpu.yaml Ingress.max_body_bytes
VALIDATOR_PEAK_RSS_LIMIT = 1024 * 1024 * 1024


def peak_rss(service: Service, deployment: str) -> int:
    """High-water mark of resident memory (VmHWM) of the deployment's replica processes."""
    peaks = []
    for proc in service.replica_processes(deployment):
        with open(f"/proc/{proc.pid}/status") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
        peaks.append(int(line.split()[1]) * 1024)
    assert peaks, f"no {deployment} replica process found"
    return max(peaks)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_gets_its_status(client: httpx.Client, case) -> None:
    response = client.post("/v1/chat/completions", content=case.body, headers={"content-type": case.content_type})
    assert response.status_code == case.status, response.text[:500]
    error = response.json()["error"]
    assert error["request_id"] and error["message"] and error["type"]
    assert "Traceback" not in response.text
    assert len(response.content) < 2048, "error bodies never echo the payload"


@pytest.mark.parametrize(("name", "text"), ODD_BUT_VALID, ids=[n for n, _ in ODD_BUT_VALID])
def test_odd_but_valid_text_is_answered(client: httpx.Client, name: str, text: str) -> None:
    body = {"messages": [{"role": "user", "content": text}], "max_tokens": 3}
    assert client.post("/v1/chat/completions", json=body).status_code == 200


def test_chunked_body_is_cut_off_at_the_limit(client: httpx.Client) -> None:
    sent = 0

    def chunks():
        nonlocal sent
        chunk = b"a" * (1024 * 1024)
        yield b'{"messages": "'
        for _ in range(64):  # 64 MiB offered, 20 MiB allowed
            sent += len(chunk)
            yield chunk

    started = time.perf_counter()
    try:
        response = client.post("/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"})
    except httpx.HTTPError:
        pytest.fail("the server must answer 413, not drop the connection")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    print(
        f"\n[e2e] chunked upload answered 413 after the client sent {sent / 2**20:.0f} MiB "
        f"in {time.perf_counter() - started:.1f}s"
    )


def raw_post(service: Service, auth: str, content_length: int, payload: bytes) -> str:
    with socket.create_connection(("127.0.0.1", service.port), timeout=60) as sock:
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n"
        ).encode()
        sock.sendall(head + payload)
        return sock.recv(65536).decode(errors="replace")


def test_body_longer_than_its_content_length_is_not_read_as_body(service: Service, client: httpx.Client) -> None:
    """Bytes past the declared length are never part of the body: the first request is answered on
    its own, or the connection is refused as malformed, and the service keeps serving."""
    body = b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}'
    reply = raw_post(service, client.headers["authorization"], len(body), body + b"x" * 1_000_000)
    assert reply.startswith(("HTTP/1.1 200", "HTTP/1.1 400")), reply[:200]
    assert client.get("/v1/models").status_code == 200


def test_oversized_content_length_is_refused_before_the_body_arrives(service: Service, client: httpx.Client) -> None:
    started = time.perf_counter()
    reply = raw_post(service, client.headers["authorization"], 10**12, b'{"messages": ')
    assert reply.startswith("HTTP/1.1 413"), reply[:200]
    assert time.perf_counter() - started < 10


def test_declared_oversized_body_is_refused_without_reading(client: httpx.Client) -> None:
    huge = b'{"messages": "' + b"a" * (BODY_LIMIT + 1024) + b'"}'
    response = client.post("/v1/chat/completions", content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_service_survives_the_corpus_with_bounded_memory(service: Service, client: httpx.Client) -> None:
    for case in CASES:  # a second full pass, then a real request
        client.post("/v1/chat/completions", content=case.body, headers={"content-type": case.content_type})
    ok = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": "still there?"}], "max_tokens": 3}
    )
    assert ok.status_code == 200
    peak = peak_rss(service, "Validator")
    print(f"\n[e2e] validator replica peak RSS after the hostile corpus: {peak / 2**20:.0f} MiB")
    assert peak < VALIDATOR_PEAK_RSS_LIMIT


REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")  # the service's own ids (uuid4 hex)


@pytest.mark.parametrize(("name", "value"), HOSTILE_REQUEST_IDS, ids=[n for n, _ in HOSTILE_REQUEST_IDS])
def test_a_hostile_client_request_id_is_never_ours(client: httpx.Client, name: str, value: bytes) -> None:
    body = {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 2}
    response = client.post("/v1/chat/completions", json=body, headers={"x-request-id": value})
    assert response.status_code == 200, response.text[:500]
    [ours] = [v for k, v in response.headers.multi_items() if k == "x-request-id"]  # one id, Ray's not added
    assert REQUEST_ID.match(ours)
    echoed = response.headers.get("x-client-request-id")
    assert echoed == (value.decode() if name == "internal screening id" else None)


def test_a_forged_id_cannot_touch_another_requests_audit_records(client: httpx.Client, admin: httpx.Client) -> None:
    """Two requests sending the same id (one forging the other's) get two ids and separate records."""

    def chat(text: str) -> dict:  # different texts: neither answer comes from the response cache
        return {"messages": [{"role": "user", "content": text}], "max_tokens": 2}

    victim = client.post("/v1/chat/completions", json=chat("hello victim"), headers={"x-request-id": "e2e-victim-id"})
    forger = client.post("/v1/chat/completions", json=chat("hello forger"), headers={"x-request-id": "e2e-victim-id"})
    assert victim.status_code == forger.status_code == 200
    ids = [victim.headers["x-request-id"], forger.headers["x-request-id"]]
    assert ids[0] != ids[1] and "e2e-victim-id" not in ids
    assert victim.headers["x-client-request-id"] == forger.headers["x-client-request-id"] == "e2e-victim-id"
    for request_id in ids:
        page = admin.get("/v1/moderation/decisions", params={"request_id": request_id}).json()
        assert sorted(r["direction"] for r in page["data"]) == ["input", "output"]
    forged = admin.get("/v1/moderation/decisions", params={"request_id": "e2e-victim-id"}).json()
    assert forged["data"] == []


def test_an_error_answer_carries_our_id_under_serve(client: httpx.Client) -> None:
    response = client.post(
        "/v1/chat/completions",
        content=b"{not json",
        headers={"content-type": "application/json", "x-request-id": "x" * 200},
    )
    assert response.status_code == 400
    [ours] = [v for k, v in response.headers.multi_items() if k == "x-request-id"]
    assert REQUEST_ID.match(ours) and response.json()["error"]["request_id"] == ours
