"""Typed errors raised by the processing pipelines.

Each error knows the HTTP status and OpenAI error ``type``/``code`` it maps to, so the
service turns it into a response body in one place (``serve_app.api.errors``). The errors
cross Ray deployment boundaries, so they are small, carry only strings and ints, and
pickle through ``__reduce__`` (the default pickling of ``Exception`` subclasses loses
keyword-only attributes).
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: an error whose message is safe to show to the client.

    A subclass states what differs from its parent as class keywords, read once here:
    ``class X(ServiceError, status=404, error_type="not_found_error", default_code="not_found")``.
    """

    status: int = 500
    error_type: str = "internal_error"
    default_code: str = "internal_error"

    def __init_subclass__(
        cls,
        *,
        status: int | None = None,
        error_type: str | None = None,
        default_code: str | None = None,
        **kwargs: object,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if error_type is not None:
            cls.error_type = error_type
        if default_code is not None:
            cls.default_code = default_code

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code or self.default_code

    def __reduce__(self) -> tuple:
        return (_rebuild_error, (type(self), self.message, self.param, self.code))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, param={self.param!r}, code={self.code!r})"


def _rebuild_error(cls: type[ServiceError], message: str, param: str | None, code: str) -> ServiceError:
    return cls(message, param=param, code=code)


class InvalidRequestError(ServiceError, status=400, error_type="invalid_request_error", default_code="invalid_value"):
    """The request is malformed or a parameter is out of range (HTTP 400)."""


class UnprocessableEntityError(InvalidRequestError, status=422, default_code="unprocessable_content"):
    """The request is well-formed but its content cannot be processed (HTTP 422)."""


class PayloadTooLargeError(InvalidRequestError, status=413, default_code="payload_too_large"):
    """A size limit was exceeded (HTTP 413)."""


class UnsupportedMediaTypeError(InvalidRequestError, status=415, default_code="unsupported_media_type"):
    """An image's bytes are not a supported format, or contradict the declared type (HTTP 415)."""


class AuthenticationError(ServiceError, status=401, error_type="authentication_error", default_code="invalid_api_key"):
    """Missing or wrong API key (HTTP 401). The message never says which."""


class PermissionDeniedError(ServiceError, status=403, error_type="permission_error", default_code="admin_key_required"):
    """A valid key without the right to this route (HTTP 403): the audit log needs an admin key."""


class NotFoundError(ServiceError, status=404, error_type="not_found_error", default_code="not_found"):
    """No such model or console file (HTTP 404)."""


class OverloadedError(ServiceError, status=503, error_type="server_error", default_code="overloaded"):
    """The service sheds load (HTTP 503 with Retry-After)."""


class ModelNotReadyError(OverloadedError, default_code="model_not_ready"):
    """The model is still loading, or produced no result (HTTP 503)."""


class ShuttingDownError(OverloadedError, default_code="shutting_down"):
    """The service is draining before a stop: requests in flight finish, new ones go elsewhere."""


class DeadlineExceededError(ServiceError, status=504, error_type="server_error", default_code="timeout"):
    """The request did not finish before its deadline (HTTP 504)."""


class RequestCancelledError(ServiceError, status=499, error_type="invalid_request_error", default_code="cancelled"):
    """The client went away; nobody reads this answer (499 in the access log, as nginx writes it)."""


class EngineError(ServiceError, status=500, error_type="server_error", default_code="engine_error"):
    """Generation failed for one request; its batch-mates are unaffected (HTTP 500)."""
