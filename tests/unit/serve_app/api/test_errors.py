"""The one exception -> error-body mapping: statuses, codes, params, Retry-After, nothing leaked."""

from __future__ import annotations

import asyncio
import json

import pydantic
import pytest
from ray.exceptions import RayActorError
from ray.serve.exceptions import BackPressureError

from pipelines.core.errors import (
    AuthenticationError,
    DeadlineExceededError,
    InvalidRequestError,
    OverloadedError,
    PayloadTooLargeError,
)
from serve_app.api.errors import shed_load, to_error_response


def body(response) -> dict:
    return json.loads(response.body)["error"]


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (InvalidRequestError("bad", param="messages[0].content", code="invalid_value"), 400, "invalid_value"),
        (AuthenticationError("no key"), 401, "invalid_api_key"),
        (PayloadTooLargeError("big", code="body_too_large"), 413, "body_too_large"),
        (OverloadedError("busy"), 503, "overloaded"),
        (DeadlineExceededError("late"), 504, "timeout"),
    ],
)
def test_typed_errors_keep_status_code_and_param(error: Exception, status: int, code: str) -> None:
    response = to_error_response(error, "rid-e")
    assert response.status_code == status
    detail = body(response)
    assert detail["code"] == code and detail["request_id"] == "rid-e" and detail["message"]
    assert ("retry-after" in response.headers) == (status in (429, 503))
    assert detail["param"] == getattr(error, "param", None)


def test_serve_and_ray_failures_are_transient_503s() -> None:
    back = to_error_response(BackPressureError(num_queued_requests=3, max_queued_requests=3), "r")
    assert back.status_code == 503 and body(back)["code"] == "overloaded" and back.headers["retry-after"] == "1"
    lost = to_error_response(RayActorError(), "r")
    assert lost.status_code == 503 and body(lost)["code"] == "replica_failed"


def test_a_pydantic_error_names_its_parameter_and_an_unknown_error_leaks_nothing() -> None:
    class Body(pydantic.BaseModel):
        temperature: float

    with pytest.raises(pydantic.ValidationError) as caught:
        Body.model_validate({"temperature": "hot"})
    invalid = to_error_response(caught.value, "r")
    assert invalid.status_code == 400 and body(invalid)["param"] == "temperature"
    hidden = to_error_response(KeyError("db password hunter2"), "r")
    assert hidden.status_code == 500 and "hunter2" not in hidden.body.decode()


def test_shed_load_turns_serve_backpressure_into_our_overload_error() -> None:
    async def overloaded() -> None:
        async with shed_load():
            raise BackPressureError(num_queued_requests=1, max_queued_requests=1)

    with pytest.raises(OverloadedError):
        asyncio.run(overloaded())
