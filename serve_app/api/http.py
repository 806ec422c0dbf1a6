"""HTTP mechanics shared by every route: request ids on every response, and bounded body reading."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from fastapi import FastAPI, Request, Response

from pipelines.core.errors import InvalidRequestError, PayloadTooLargeError
from serve_app.api.errors import to_error_response

REQUEST_ID_HEADER = "x-request-id"
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


def serve_request_id() -> str | None:
    """The id Serve's proxy gave this request (None outside Serve, e.g. in-process tests)."""
    from ray.serve.context import _get_serve_request_context

    return _get_serve_request_context().request_id or None


def install_request_context(app: FastAPI) -> None:
    @app.middleware("http")
    async def request_context(request: Request, call_next: Any) -> Response:
        """Give every request an id and echo it on every response.

        Under Serve the proxy already assigns one (the client's ``x-request-id`` if sent) and adds
        the header to the response, and replica logs carry it: use that id so logs, header and error
        bodies agree. Outside Serve take a well-formed client id or make one.
        """
        serve_id = serve_request_id()
        supplied = request.headers.get(REQUEST_ID_HEADER, "")
        request.state.request_id = serve_id or (supplied if _CLIENT_REQUEST_ID.match(supplied) else new_request_id())
        try:
            response = await call_next(request)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: nothing leaks
            response = to_error_response(exc, request.state.request_id)
        if not serve_id:
            response.headers[REQUEST_ID_HEADER] = request.state.request_id
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
