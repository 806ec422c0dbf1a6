"""HTTP mechanics shared by every route: request ids on every response, and bounded body reading."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import uuid
from typing import Any

from fastapi import FastAPI, Request, Response

from pipelines.core.errors import InvalidRequestError, PayloadTooLargeError
from serve_app.api.errors import to_error_response

REQUEST_ID_HEADER = "x-request-id"
CLIENT_REQUEST_ID_HEADER = "x-client-request-id"
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")

logger = logging.getLogger("ray.serve")


def new_request_id() -> str:
    return uuid.uuid4().hex


def well_formed_client_id(value: str | None) -> str | None:
    """A client's id if it has the bounded format (``fullmatch``: no trailing newline), else None."""
    return value if value is not None and _CLIENT_REQUEST_ID.fullmatch(value) else None


def serve_request_id() -> str | None:
    """The id Serve's proxy gave this request (None outside Serve, e.g. in-process tests)."""
    from ray.serve.context import _get_serve_request_context

    return _get_serve_request_context().request_id or None


def adopt_in_serve_context(request_id: str) -> None:
    """Make ``request_id`` the one Serve's log records and outgoing handle calls carry.

    The proxy's id is the client's ``x-request-id`` when one is sent, so it is never ours: replacing
    it here makes this replica's log lines and every downstream deployment's (the handle copies the
    context's id into its calls) carry our id instead.
    """
    from ray.serve import context

    context._serve_request_context.set(dataclasses.replace(context._get_serve_request_context(), request_id=request_id))


def client_correlation_id(request: Request, under_serve: bool) -> str | None:
    """The client's own id, kept only for correlation. Under Serve the proxy's edge middleware
    (serve_app/api/edge.py) moves it to ``x-client-request-id`` and ``x-request-id`` is the proxy's."""
    supplied = request.headers.get(CLIENT_REQUEST_ID_HEADER)
    if supplied is None and not under_serve:
        supplied = request.headers.get(REQUEST_ID_HEADER)
    return well_formed_client_id(supplied)


def install_request_context(app: FastAPI) -> None:
    @app.middleware("http")
    async def request_context(request: Request, call_next: Any) -> Response:
        """Give every request an id of our own and put it on every response.

        The id is the audit and cancellation key, so a client never chooses it: a well-formed client
        id is only logged beside ours and echoed in ``x-client-request-id``.
        """
        proxy_id = serve_request_id()
        request_id = new_request_id()
        request.state.request_id = request_id
        if proxy_id:
            adopt_in_serve_context(request_id)
        correlation = client_correlation_id(request, under_serve=proxy_id is not None)
        if correlation is not None:
            logger.info("request %s: client request id %s", request_id, correlation)
        try:
            response = await call_next(request)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: nothing leaks
            response = to_error_response(exc, request_id)
        response.headers[REQUEST_ID_HEADER] = request_id
        if correlation is not None:
            response.headers[CLIENT_REQUEST_ID_HEADER] = correlation
        return response


async def read_json_body(request: Request, limit: int) -> Any:
    """Parse the JSON body, refusing it as soon as it exceeds ``limit`` bytes.

    A declared ``Content-Length`` over the limit is refused before reading anything; a body
    that lies about its length, or is chunked, is cut off at the limit while streaming.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"Request body exceeds {limit} bytes.", code="body_too_large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"Request body exceeds {limit} bytes.", code="body_too_large")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidRequestError("Request body is not valid JSON.", code="invalid_json") from exc
    except ValueError:  # an integer past Python's int-string limit (4,300 digits): not a number we accept
        raise InvalidRequestError("Request body holds a number too large to read.", code="invalid_json") from None


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    payload = await read_json_body(request, limit)
    if not isinstance(payload, dict):
        raise InvalidRequestError("Request body must be a JSON object.", code="invalid_json")
    return payload
