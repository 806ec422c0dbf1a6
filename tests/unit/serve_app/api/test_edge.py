"""The middleware Serve's proxy runs (serve_app/api/edge.py), wrapped the way Ray wraps it: around
Ray's own request-id middleware."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
import pytest
from ray.serve._private.http_util import _apply_middlewares, validate_http_proxy_callback_return
from ray.serve._private.utils import call_function_from_import_path
from starlette.types import Receive, Scope, Send

from serve_app.api.edge import PROXY_CALLBACK, PROXY_CALLBACK_ENV, proxy_middlewares
from serve_app.ops.launch import proxy_callback_env
from serve_app.ops.preflight import ConfigError

APP_ID = "0123456789abcdef0123456789abcdef"


class Replica:
    """Records the headers that reach it and answers with its own ``x-request-id``, as the Ingress does."""

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.headers = list(scope["headers"])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-request-id", APP_ID.encode())]})
        await send({"type": "http.response.body", "body": b"ok"})

    def header(self, name: bytes) -> list[str]:
        return [v.decode("latin-1") for k, v in self.headers if k == name]


def through_proxy(headers: list[tuple[bytes, bytes]]) -> tuple[Replica, httpx.Response]:
    replica = Replica()
    app = _apply_middlewares(replica, proxy_middlewares())

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://proxy") as client:
            return await client.get("/", headers=headers)

    return replica, asyncio.run(go())


def response_ids(response: httpx.Response) -> list[str]:
    return [v for k, v in response.headers.multi_items() if k == "x-request-id"]


def test_the_client_id_never_becomes_the_proxys_and_one_id_goes_back() -> None:
    replica, response = through_proxy([(b"x-request-id", b"victim-request-7")])
    [proxy_id] = replica.header(b"x-request-id")
    assert proxy_id != "victim-request-7"  # Ray's proxy made one: its logs and context carry that
    assert replica.header(b"x-client-request-id") == ["victim-request-7"]
    assert response_ids(response) == [APP_ID]  # Ray's own x-request-id is not appended as a second one


@pytest.mark.parametrize("supplied", [b"x" * 200, b"has spaces", b"a\xc3\xbcb", b""])
def test_a_malformed_or_overlong_client_id_is_dropped_at_the_proxy(supplied: bytes) -> None:
    replica, response = through_proxy([(b"x-request-id", supplied), (b"x-client-request-id", b"also-forged")])
    [proxy_id] = replica.header(b"x-request-id")
    assert proxy_id.encode() != supplied
    assert replica.header(b"x-client-request-id") == []
    assert response_ids(response) == [APP_ID]


def test_without_a_client_id_nothing_is_made_up() -> None:
    replica, response = through_proxy([])
    assert replica.header(b"x-client-request-id") == [] and len(replica.header(b"x-request-id")) == 1
    assert response_ids(response) == [APP_ID]


def test_ray_loads_the_callback_and_launch_installs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    middlewares = validate_http_proxy_callback_return(call_function_from_import_path(PROXY_CALLBACK))
    assert len(middlewares) == 1
    environ: dict[str, Any] = {k: v for k, v in os.environ.items() if k != PROXY_CALLBACK_ENV}
    assert proxy_callback_env(environ) == {PROXY_CALLBACK_ENV: PROXY_CALLBACK}
    assert proxy_callback_env({PROXY_CALLBACK_ENV: PROXY_CALLBACK}) == {PROXY_CALLBACK_ENV: PROXY_CALLBACK}
    with pytest.raises(ConfigError, match=PROXY_CALLBACK_ENV):
        proxy_callback_env({PROXY_CALLBACK_ENV: "someone.else:callback"})
