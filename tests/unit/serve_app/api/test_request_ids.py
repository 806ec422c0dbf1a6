"""Request ids are ours: a client's ``x-request-id`` is only a correlation field, in process and
under Serve (whose proxy copies the client's header into the request context)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ray.serve import context as serve_context

from pipelines.audit import AuditRecord
from tests.unit.serve_app.fakes import FakeModel, FakePolicy

CHAT = {"messages": [{"role": "user", "content": "Describe a tote bag."}], "max_tokens": 8}
OUR_ID = re.compile(r"^[0-9a-f]{32}$")
OVERLONG_ID = "x" * 200


class AuditRecorder:
    """Stands in for the audit log behind the real Moderator."""

    digest_key = b"request-id-tests-digest-key"

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def record(self, record: AuditRecord) -> None:
        self.records.append(record)

    def health(self) -> dict[str, Any]:
        return {"ok": True, "pending": 0, "last_error": None}


@pytest.fixture
def audit(policy_backend: FakePolicy, monkeypatch: pytest.MonkeyPatch) -> AuditRecorder:
    recorder = AuditRecorder()
    monkeypatch.setattr(policy_backend.moderator, "audit", recorder)
    return recorder


@pytest.fixture
def under_serve() -> Iterator[str]:
    """Serve's request context as the proxy sets it: the client's ``x-request-id`` is its id."""
    proxy_id = "victim-request-7"
    token = serve_context._serve_request_context.set(
        serve_context._RequestContext(request_id=proxy_id, is_http_request=True)
    )
    yield proxy_id
    serve_context._serve_request_context.reset(token)


def send(
    client_factory: Callable[..., httpx.AsyncClient], requests: list[dict[str, Any]], **settings: object
) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        async with client_factory(**settings) as client:
            return [await client.request(**r) for r in requests]

    return asyncio.run(go())


def chat(headers: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    return {"method": "POST", "url": "/v1/chat/completions", "json": CHAT, "headers": headers or {}, **kwargs}


def test_two_requests_with_the_same_client_id_get_their_own_ids_and_audit_records(
    http: Callable[..., httpx.AsyncClient], audit: AuditRecorder, model: FakeModel
) -> None:
    first, second = send(http, [chat({"x-request-id": "shared-id"}), chat({"x-request-id": "shared-id"})])
    assert first.status_code == second.status_code == 200
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert all(OUR_ID.match(i) for i in ids) and ids[0] != ids[1]
    assert first.headers["x-client-request-id"] == second.headers["x-client-request-id"] == "shared-id"
    assert [r.request_id for r in model.seen] == ids  # the cancellation key is ours too
    by_request = {i: [r for r in audit.records if r.request_id == i] for i in ids}
    assert all({r.direction for r in records} == {"input", "output"} for records in by_request.values())
    assert "shared-id" not in {r.request_id for r in audit.records}


def test_error_bodies_carry_our_id_not_the_clients(http: Callable[..., httpx.AsyncClient]) -> None:
    [bad] = send(
        http,
        [chat({"x-request-id": "client-err-1", "content-type": "application/json"}, json=None, content=b"{no")],
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["request_id"] == bad.headers["x-request-id"] != "client-err-1"
    assert bad.headers["x-client-request-id"] == "client-err-1"


@pytest.mark.parametrize("supplied", [OVERLONG_ID, "has spaces in it", "semi;colon", "ünïcode"])
def test_an_overlong_or_malformed_client_id_is_dropped_and_the_request_succeeds(
    http: Callable[..., httpx.AsyncClient],
    audit: AuditRecorder,
    caplog: pytest.LogCaptureFixture,
    supplied: str,
) -> None:
    with caplog.at_level(logging.INFO, logger="ray.serve"):
        [reply] = send(http, [chat({"x-request-id": supplied.encode()})])
    assert reply.status_code == 200
    assert OUR_ID.match(reply.headers["x-request-id"])
    assert "x-client-request-id" not in reply.headers
    assert supplied not in caplog.text and OVERLONG_ID not in caplog.text
    assert {r.request_id for r in audit.records} == {reply.headers["x-request-id"]}


def test_a_well_formed_client_id_is_logged_once_beside_ours(
    http: Callable[..., httpx.AsyncClient], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ray.serve"):
        [reply] = send(http, [chat({"x-request-id": "corr-42"})])
    lines = [r.getMessage() for r in caplog.records if "corr-42" in r.getMessage()]
    assert lines == [f"request {reply.headers['x-request-id']}: client request id corr-42"]


def test_under_serve_the_proxys_id_is_replaced_by_ours(
    http: Callable[..., httpx.AsyncClient],
    model: FakeModel,
    audit: AuditRecorder,
    under_serve: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen_in_context: list[str] = []
    generate = model.generate

    async def record_context(*, request: Any) -> Any:
        seen_in_context.append(serve_context._get_serve_request_context().request_id)
        return await generate(request=request)

    monkeypatch.setattr(model, "generate", record_context)
    # Serve's proxy (with serve_app/api/edge.py) hands the client's id over as x-client-request-id
    headers = {"x-request-id": under_serve, "x-client-request-id": "corr-7"}
    [reply] = send(http, [chat(headers)])
    assert reply.status_code == 200
    ours = reply.headers["x-request-id"]
    assert OUR_ID.match(ours) and ours != under_serve
    assert reply.headers["x-client-request-id"] == "corr-7"
    assert seen_in_context == [ours]  # what Serve's log lines and the handles' calls carry
    assert {r.request_id for r in audit.records} == {ours}


def test_under_serve_an_overlong_proxy_id_does_not_fail_the_request(
    http: Callable[..., httpx.AsyncClient], audit: AuditRecorder
) -> None:
    token = serve_context._serve_request_context.set(
        serve_context._RequestContext(request_id=OVERLONG_ID, is_http_request=True)
    )
    try:
        [reply] = send(http, [chat({"x-request-id": OVERLONG_ID})])
    finally:
        serve_context._serve_request_context.reset(token)
    assert reply.status_code == 200
    assert OUR_ID.match(reply.headers["x-request-id"]) and "x-client-request-id" not in reply.headers
    assert {r.request_id for r in audit.records} == {reply.headers["x-request-id"]}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=300))
def test_any_client_id_gets_our_id_and_only_a_well_formed_one_is_echoed(
    http: Callable[..., httpx.AsyncClient], supplied: str
) -> None:
    """Fuzzed ``x-request-id`` values (printable ASCII, up to 300 characters): never a failure, always
    our id; the client's comes back only if it is well formed."""
    [response] = send(http, [chat({"x-request-id": supplied})])
    assert response.status_code == 200
    assert OUR_ID.match(response.headers["x-request-id"])
    echoed = response.headers.get("x-client-request-id")
    assert echoed is None or echoed == supplied.strip()
