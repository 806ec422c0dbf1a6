"""Serve's HTTP proxy, told not to trust the client's ``x-request-id``.

Ray's proxy takes a client's ``x-request-id`` verbatim as its request id: it logs it, puts it in the
replicas' request context and appends it to the response. This middleware runs in the proxy before
Ray's own (``RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH``, set by serve_app/ops/launch.py): it moves a
well-formed client id to ``x-client-request-id`` and drops a malformed one, so the proxy makes an id
of its own; on the way out it keeps the first ``x-request-id`` only, the Ingress's (our own id), where
Ray would otherwise add its id as a second header.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serve_app.api.http import CLIENT_REQUEST_ID_HEADER, REQUEST_ID_HEADER, well_formed_client_id

PROXY_CALLBACK_ENV = "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH"
PROXY_CALLBACK = "serve_app.api.edge:proxy_middlewares"

Headers = list[tuple[bytes, bytes]]

_REQUEST_ID = REQUEST_ID_HEADER.encode()
_CLIENT_REQUEST_ID = CLIENT_REQUEST_ID_HEADER.encode()


def client_request_headers(headers: Iterable[tuple[bytes, bytes]]) -> Headers:
    """The request's headers without the client's ids, plus its well-formed id as ``x-client-request-id``."""
    kept: Headers = []
    supplied: dict[bytes, str] = {}
    for name, value in headers:
        if name.lower() in (_REQUEST_ID, _CLIENT_REQUEST_ID):
            supplied.setdefault(name.lower(), value.decode("latin-1"))
        else:
            kept.append((name, value))
    first = supplied.get(_REQUEST_ID, supplied.get(_CLIENT_REQUEST_ID))
    if (client_id := well_formed_client_id(first)) is not None:
        kept.append((_CLIENT_REQUEST_ID, client_id.encode()))
    return kept


def one_request_id(headers: Iterable[tuple[bytes, bytes]]) -> Headers:
    """The response's headers with only the first ``x-request-id`` (the application's own)."""
    kept: Headers = []
    seen = False
    for name, value in headers:
        if name.lower() == _REQUEST_ID:
            if seen:
                continue
            seen = True
        kept.append((name, value))
    return kept


class ClientRequestIdEdge:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_one_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": one_request_id(message.get("headers", []))}
            await send(message)

        await self.app({**scope, "headers": client_request_headers(scope["headers"])}, receive, send_one_id)


def proxy_middlewares() -> list[Middleware]:
    """What Ray's proxy calls (``PROXY_CALLBACK``) for the middlewares it wraps around its own."""
    return [Middleware(ClientRequestIdEdge)]
