"""The one place that turns exceptions into OpenAI-style error responses.

Body: ``{"error": {"message", "type", "param", "code", "request_id"}}``. ``code`` is a stable
string (OpenAI's convention, e.g. ``payload_too_large``), not the HTTP status, which is the
response's status line. Unexpected exceptions become a 500 with a fixed message: no exception
text or stack trace ever reaches a client.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import pydantic
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipelines.core.errors import OverloadedError, ServiceError
from serve_app.api.protocol import ErrorDetail, ErrorResponse

logger = logging.getLogger("ray.serve")

RETRY_AFTER_S = "1"

_HTTP_ERROR_TYPES = {
    400: ("invalid_request_error", "bad_request"),
    401: ("authentication_error", "invalid_api_key"),
    404: ("not_found_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    408: ("timeout_error", "request_timeout"),
    413: ("invalid_request_error", "payload_too_large"),
    415: ("invalid_request_error", "unsupported_media_type"),
    422: ("invalid_request_error", "unprocessable_content"),
    429: ("rate_limit_error", "rate_limited"),
    503: ("server_error", "overloaded"),
}


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def error_response(
    status: int, message: str, *, error_type: str, code: str | None, param: str | None, request_id: str | None
) -> JSONResponse:
    body = ErrorResponse(
        error=ErrorDetail(message=message, type=error_type, param=param, code=code, request_id=request_id)
    )
    headers: dict[str, str] = {}
    if status in (429, 503):
        headers["retry-after"] = RETRY_AFTER_S
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def unwrap(exc: BaseException) -> BaseException:
    """The original exception behind a Ray task error from another deployment."""
    seen = 0
    while not isinstance(exc, ServiceError) and getattr(exc, "cause", None) is not None and seen < 5:
        exc = exc.cause  # type: ignore[assignment]
        seen += 1
    return exc


def service_error_response(exc: ServiceError, request_id: str | None) -> JSONResponse:
    return error_response(
        exc.status, exc.message, error_type=exc.error_type, code=exc.code, param=exc.param, request_id=request_id
    )


def as_service_error(exc: BaseException) -> ServiceError | None:
    """The typed error behind ``exc``: our own, or a transient Serve/Ray failure (503); None if unknown."""
    exc = unwrap(exc)
    if isinstance(exc, ServiceError):
        return exc
    if _is_backpressure(exc):
        return OverloadedError("The service is overloaded; retry later.")
    if _is_replica_failure(exc):
        return OverloadedError("A replica failed while handling the request; retry.", code="replica_failed")
    return None


def to_error_response(exc: BaseException, request_id: str | None) -> JSONResponse:
    """Map any exception to an error response; unknown ones are logged and hidden."""
    known = as_service_error(exc)
    if known is not None:
        if known.code == "replica_failed":
            logger.warning("request %s lost its replica: %s", request_id, type(unwrap(exc)).__name__)
        return service_error_response(known, request_id)
    exc = unwrap(exc)
    if isinstance(exc, (RequestValidationError, pydantic.ValidationError)):
        return _validation_error_response(exc, request_id)
    logger.error("unhandled error for request %s", request_id, exc_info=exc)
    return error_response(
        500,
        "Internal server error.",
        error_type="server_error",
        code="internal_error",
        param=None,
        request_id=request_id,
    )


def _is_backpressure(exc: BaseException) -> bool:
    from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError

    return isinstance(exc, (BackPressureError, DeploymentUnavailableError))


def _is_replica_failure(exc: BaseException) -> bool:
    """A replica died or became unreachable mid-request: transient, Serve is replacing it (503)."""
    from ray.exceptions import RayActorError

    return isinstance(exc, RayActorError)


@contextlib.asynccontextmanager
async def shed_load() -> AsyncIterator[None]:
    """Turn a full downstream queue into our 503 (error body, request id, Retry-After).

    Needed around every route's deployment calls: Serve registers its own FastAPI handler for
    ``BackPressureError`` on the ingress app, which would answer a bare text 503 instead.
    """
    try:
        yield
    except Exception as exc:
        if _is_backpressure(exc):
            raise OverloadedError("The service is overloaded; retry later.") from exc
        raise


def _validation_error_response(
    exc: RequestValidationError | pydantic.ValidationError, request_id: str | None
) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = _format_loc(loc) or None
    message = f"Invalid value for '{param}': {first.get('msg', 'invalid')}" if param else "Invalid request body."
    return error_response(
        400, message, error_type="invalid_request_error", code="invalid_value", param=param, request_id=request_id
    )


def _format_loc(loc: list[str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> JSONResponse:
        return service_error_response(exc, request_id_of(request))

    @app.exception_handler(RequestValidationError)
    @app.exception_handler(pydantic.ValidationError)
    async def _validation(request: Request, exc: RequestValidationError | pydantic.ValidationError) -> JSONResponse:
        return _validation_error_response(exc, request_id_of(request))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error_type, code = _HTTP_ERROR_TYPES.get(exc.status_code, ("invalid_request_error", "http_error"))
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        return error_response(
            exc.status_code, message, error_type=error_type, code=code, param=None, request_id=request_id_of(request)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return to_error_response(exc, request_id_of(request))
