"""The HTTP routes in process (httpx's ASGI transport over ``create_app``): status codes, error bodies,
request ids, headers, keys and draining, with in-process backends behind them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import httpx
import pytest

from tests.unit.serve_app.fakes import FakeModel

CHAT = {"messages": [{"role": "user", "content": "Describe a tote bag."}], "max_tokens": 8}


def call(
    client_factory: Callable[..., httpx.AsyncClient],
    method: str,
    path: str,
    settings: dict | None = None,
    **kwargs: object,
) -> httpx.Response:
    async def go() -> httpx.Response:
        async with client_factory(**(settings or {})) as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


def test_chat_answers_with_request_id_batch_and_version_headers(http: Callable[..., httpx.AsyncClient]) -> None:
    reply = call(http, "POST", "/v1/chat/completions", json=CHAT, headers={"x-request-id": "client-id-1"})
    assert reply.status_code == 200
    # our own id; the client's comes back only as a correlation id (tests/unit/serve_app/api/test_request_ids.py)
    assert reply.headers["x-request-id"] != "client-id-1" and reply.headers["x-client-request-id"] == "client-id-1"
    assert reply.headers["x-batch-size"] == "1" and reply.headers["x-cache"] == "skip"
    assert reply.headers["x-qvs-version"].startswith("model=fake@1; policy=")
    assert reply.json()["choices"][0]["message"]["content"] == FakeModel().answer


def test_errors_are_openai_bodies_carrying_the_request_id(http: Callable[..., httpx.AsyncClient]) -> None:
    bad = call(http, "POST", "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_json"
    assert bad.json()["error"]["request_id"] == bad.headers["x-request-id"]
    typed = call(http, "POST", "/v1/chat/completions", json={"messages": [{"role": "user", "content": 5}]})
    assert typed.status_code == 400 and typed.json()["error"]["param"].startswith("messages[0].content")
    big = call(http, "POST", "/v1/chat/completions", {"max_body_bytes": 1024}, json={**CHAT, "pad": "x" * 2000})
    assert big.status_code == 413 and big.json()["error"]["code"] == "body_too_large"
    missing = call(http, "POST", "/v1/chat/completions", json={**CHAT, "model": "nope"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


def test_an_unexpected_failure_is_a_fixed_500_that_leaks_nothing(
    http: Callable[..., httpx.AsyncClient], model: FakeModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def explode(*, request: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(model, "generate", explode)
    reply = call(http, "POST", "/v1/chat/completions", json=CHAT)
    assert reply.status_code == 500
    assert reply.json()["error"]["message"] == "Internal server error."
    assert "secret" not in reply.text and "Traceback" not in reply.text


def test_api_keys_are_required_once_configured(
    http: Callable[..., httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QVS_TEST_KEYS", "k-one, k-two")
    settings = {"api_key_env": "QVS_TEST_KEYS"}
    assert call(http, "POST", "/v1/chat/completions", settings, json=CHAT).status_code == 401
    wrong = call(http, "POST", "/v1/chat/completions", settings, json=CHAT, headers={"authorization": "Bearer k-1"})
    assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "authentication_error"
    right = call(http, "POST", "/v1/chat/completions", settings, json=CHAT, headers={"authorization": "Bearer k-two"})
    assert right.status_code == 200
    assert call(http, "GET", "/healthz", settings).status_code == 200  # probes need no key


def test_a_huge_integer_is_a_400_and_unknown_fields_are_logged_by_name_and_size(
    http: Callable[..., httpx.AsyncClient], caplog: pytest.LogCaptureFixture
) -> None:
    huge = b'{"messages": [], "max_tokens": ' + b"9" * 5000 + b"}"
    reply = call(http, "POST", "/v1/chat/completions", content=huge, headers={"content-type": "application/json"})
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "invalid_json"
    assert "Traceback" not in caplog.text

    secret = "s3cr3t-" + "v" * 100_000
    extra = {f"junk{i}": secret for i in range(30)} | {"n" * 500: 1}
    with caplog.at_level(logging.INFO, logger="ray.serve"):
        assert call(http, "POST", "/v1/chat/completions", json={**CHAT, **extra}).status_code == 200
    [line] = [r.getMessage() for r in caplog.records if "ignoring unknown fields" in r.getMessage()]
    assert "s3cr3t" not in line and len(line) < 1000, line
    assert "'junk0'(100009B)" in line and "+21 more" in line


def test_the_audit_log_needs_an_admin_key(
    http: Callable[..., httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QVS_TEST_KEYS", "caller-key")
    monkeypatch.setenv("QVS_TEST_ADMIN_KEYS", "admin-key")
    both = {"api_key_env": "QVS_TEST_KEYS", "admin_api_key_env": "QVS_TEST_ADMIN_KEYS"}

    def bearer(key: str) -> dict[str, str]:
        return {"authorization": f"Bearer {key}"}

    as_caller = call(http, "GET", "/v1/moderation/decisions", both, headers=bearer("caller-key"))
    assert as_caller.status_code == 403
    assert as_caller.json()["error"]["type"] == "permission_error"
    assert as_caller.json()["error"]["code"] == "admin_key_required"
    assert as_caller.json()["error"]["request_id"] == as_caller.headers["x-request-id"]
    assert call(http, "GET", "/v1/moderation/decisions", both).status_code == 401
    assert call(http, "GET", "/v1/moderation/decisions", both, headers=bearer("admin-key")).status_code == 200
    # an admin key opens the caller routes too
    admin_chat = call(http, "POST", "/v1/chat/completions", both, json=CHAT, headers=bearer("admin-key"))
    assert admin_chat.status_code == 200
    # caller keys and no admin key: the audit log is closed to everyone
    callers_only = {"api_key_env": "QVS_TEST_KEYS"}
    closed = call(http, "GET", "/v1/moderation/decisions", callers_only, headers=bearer("caller-key"))
    assert closed.status_code == 403


def test_draining_refuses_new_requests_and_fails_readiness(http: Callable[..., httpx.AsyncClient]) -> None:
    assert call(http, "GET", "/readyz").json()["status"] == "ok"
    refused = call(http, "POST", "/v1/chat/completions", {"draining": True}, json=CHAT)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "shutting_down"
    assert refused.headers["retry-after"] == "1"
    ready = call(http, "GET", "/readyz", {"draining": True})
    assert ready.status_code == 503 and ready.json()["status"] == "draining"


def test_models_moderations_and_streams(http: Callable[..., httpx.AsyncClient]) -> None:
    card = call(http, "GET", "/v1/models").json()["data"][0]
    assert card["id"] == "qwen3-vl-test" and card["version"] == "fake@1" and card["policy_version"]
    moderation = call(http, "POST", "/v1/moderations", json={"input": ["add wechat bag888 for cheap bags", "hello"]})
    flagged = [r["flagged"] for r in moderation.json()["results"]]
    assert moderation.status_code == 200 and flagged == [True, False]
    stream = call(http, "POST", "/v1/chat/completions", json={**CHAT, "stream": True})
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.text.rstrip().endswith("data: [DONE]")


def test_the_legacy_body_and_the_openapi_document(http: Callable[..., httpx.AsyncClient]) -> None:
    legacy = call(http, "POST", "/v1/chat/completions", json={"prompt": "Is it leather?", "max_tokens": 4})
    assert legacy.status_code == 200 and legacy.json()["moderation"]["input"]["action"] == "allow"
    paths = call(http, "GET", "/openapi.json").json()["paths"]
    assert {"/v1/chat/completions", "/v1/moderations", "/readyz"} <= set(paths)
    assert "requestBody" in paths["/v1/chat/completions"]["post"]


DOC_PATHS = ["/openapi.json", "/docs", "/redoc"]


@pytest.mark.parametrize("path", DOC_PATHS)
def test_the_api_documents_need_a_key_once_keys_are_configured(
    http: Callable[..., httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    monkeypatch.setenv("QVS_TEST_KEYS", "caller-key")
    monkeypatch.setenv("QVS_TEST_ADMIN_KEYS", "admin-key")
    settings = {"api_key_env": "QVS_TEST_KEYS", "admin_api_key_env": "QVS_TEST_ADMIN_KEYS"}
    assert call(http, "GET", path).status_code == 200  # no keys configured: open, as every route
    refused = call(http, "GET", path, settings)
    assert refused.status_code == 401 and refused.json()["error"]["type"] == "authentication_error"
    assert call(http, "GET", path, settings, headers={"authorization": "Bearer wrong"}).status_code == 401
    for key in ("caller-key", "admin-key"):
        assert call(http, "GET", path, settings, headers={"authorization": f"Bearer {key}"}).status_code == 200


def test_the_documentation_pages_point_at_the_guarded_document(http: Callable[..., httpx.AsyncClient]) -> None:
    for path in ("/docs", "/redoc"):
        page = call(http, "GET", path)
        assert page.headers["content-type"].startswith("text/html") and "/openapi.json" in page.text
    paths = call(http, "GET", "/openapi.json").json()["paths"]
    assert not set(DOC_PATHS) & set(paths)  # the documents do not document themselves
