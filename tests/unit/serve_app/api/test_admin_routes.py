"""The admin routes in process: ``/v1/moderation/stats`` (counts by the real audit store, in-memory SQLite)
and ``/v1/moderation/policy``, their keys (401 / 403) and their parameter errors (400 naming the parameter)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from pipelines.audit import AuditRecord
from tests.unit.audit.test_audit import make_record
from tests.unit.serve_app.api.test_routes import call
from tests.unit.serve_app.fakes import BLOCKED_TERM, FakePolicy

# Far from other tests' records in the session's shared store: exact counts stay exact.
T0 = datetime(2031, 3, 4, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
KEYS = {"api_key_env": "QVS_TEST_KEYS", "admin_api_key_env": "QVS_TEST_ADMIN_KEYS"}
ADMIN = {"authorization": "Bearer admin-key"}
CALLER = {"authorization": "Bearer caller-key"}


def record(at: datetime, direction: str, action: str, categories: list[str]) -> AuditRecord:
    return make_record(
        request_id="admin-routes",
        created_at=at,
        direction=direction,
        action=action,
        categories=categories,
        scores=dict.fromkeys(categories, 1.0),
    )


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("QVS_TEST_KEYS", "caller-key")
    monkeypatch.setenv("QVS_TEST_ADMIN_KEYS", "admin-key")
    return KEYS


def stats(http: Callable[..., httpx.AsyncClient], keys: dict[str, str], **params: Any) -> httpx.Response:
    return call(http, "GET", "/v1/moderation/stats", keys, params=params, headers=ADMIN)


@pytest.mark.parametrize("path", ["/v1/moderation/stats", "/v1/moderation/policy"])
def test_admin_routes_need_an_admin_key(
    http: Callable[..., httpx.AsyncClient], keys: dict[str, str], path: str
) -> None:
    as_caller = call(http, "GET", path, keys, headers=CALLER)
    assert as_caller.status_code == 403
    assert as_caller.json()["error"]["code"] == "admin_key_required"
    anonymous = call(http, "GET", path, keys)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "invalid_api_key"
    assert call(http, "GET", path, keys, headers={"authorization": "Bearer wrong"}).status_code == 401
    assert call(http, "GET", path, keys, headers=ADMIN).status_code == 200
    assert call(http, "GET", path, {"api_key_env": "QVS_TEST_KEYS"}, headers=CALLER).status_code == 403


def test_stats_counts_per_bucket(
    http: Callable[..., httpx.AsyncClient], keys: dict[str, str], policy_backend: FakePolicy
) -> None:
    policy_backend.record(
        record(T0, "input", "block", ["spam"]),
        record(T0 + timedelta(minutes=5), "input", "block", ["spam", "pii"]),
        record(T0 + timedelta(minutes=30), "input", "allow", []),
        record(T0 + HOUR, "output", "redact", ["pii"]),
        record(T0 + 2 * HOUR, "input", "block", ["spam"]),  # at `until`: not counted
    )
    response = stats(http, keys, since="2031-03-04T10:00:00Z", until="2031-03-04T14:00:00+02:00", bucket="hour")
    assert response.status_code == 200
    assert response.json() == {
        "object": "moderation.stats",
        "bucket": "hour",
        "bucket_seconds": 3600,
        "since": "2031-03-04T10:00:00Z",
        "until": "2031-03-04T12:00:00Z",
        "buckets": ["2031-03-04T10:00:00Z", "2031-03-04T11:00:00Z"],
        "decisions": [
            {"start": "2031-03-04T10:00:00Z", "direction": "input", "action": "allow", "count": 1},
            {"start": "2031-03-04T10:00:00Z", "direction": "input", "action": "block", "count": 2},
            {"start": "2031-03-04T11:00:00Z", "direction": "output", "action": "redact", "count": 1},
        ],
        "series": [
            {"start": "2031-03-04T10:00:00Z", "direction": "input", "action": "allow", "category": None, "count": 1},
            {"start": "2031-03-04T10:00:00Z", "direction": "input", "action": "block", "category": "pii", "count": 1},
            {"start": "2031-03-04T10:00:00Z", "direction": "input", "action": "block", "category": "spam", "count": 2},
            {
                "start": "2031-03-04T11:00:00Z",
                "direction": "output",
                "action": "redact",
                "category": "pii",
                "count": 1,
            },
        ],
        "totals": {
            "decisions": 4,
            "by_action": {"allow": 1, "block": 2, "redact": 1},
            "by_direction": {"input": 3, "output": 1},
            "by_category": {"pii": 2, "spam": 2},
            "without_category": 1,
        },
    }
    half_hours = stats(http, keys, since="2031-03-04T10:00:00Z", until="2031-03-04T11:00:00Z", bucket="1800").json()
    assert half_hours["bucket_seconds"] == 1800
    assert [(d["start"], d["count"]) for d in half_hours["decisions"]] == [
        ("2031-03-04T10:00:00Z", 2),
        ("2031-03-04T10:30:00Z", 1),
    ]


def test_stats_defaults_to_the_configured_window_before_now(
    http: Callable[..., httpx.AsyncClient],
    keys: dict[str, str],
    policy_backend: FakePolicy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(policy_backend, "now", T0 + timedelta(days=30))
    body = stats(http, keys).json()
    assert body["bucket"] == "hour" and body["until"] == "2031-04-03T10:00:00Z"
    assert len(body["buckets"]) == policy_backend.audit_config.stats_window_s / 3600
    assert body["decisions"] == [] and body["totals"]["decisions"] == 0


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        (
            {"since": "2031-01-01T00:00:00Z", "until": "2031-03-01T00:00:00Z", "bucket": "minute"},
            "bucket",
            "too_many_buckets",
        ),
        ({"since": "2031-01-02T00:00:00Z", "until": "2031-01-01T00:00:00Z"}, "until", "invalid_value"),
        ({"bucket": "week"}, "bucket", "invalid_value"),
        ({"bucket": "0"}, "bucket", "invalid_value"),
        ({"bucket": "9" * 5000}, "bucket", "invalid_value"),
        ({"since": "2031-01-01T00:00:00"}, "since", "invalid_value"),  # no timezone
        ({"since": "yesterday"}, "since", "invalid_value"),
        ({"category": "spam"}, "category", "invalid_value"),  # not a stats parameter
    ],
)
def test_stats_parameter_errors_name_the_parameter(
    http: Callable[..., httpx.AsyncClient], keys: dict[str, str], params: dict[str, str], param: str, code: str
) -> None:
    response = stats(http, keys, **params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")


def test_the_policy_as_loaded(http: Callable[..., httpx.AsyncClient], keys: dict[str, str]) -> None:
    response = call(http, "GET", "/v1/moderation/policy", keys, headers=ADMIN)
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "moderation.policy"
    assert body["version"] and len(body["digest"]) == 64
    categories = {c["name"]: c for c in body["categories"]}
    assert categories["custom"]["output"] == "block"  # the fake's run-time change is what is shown
    assert categories["custom"]["terms"] >= 1 and BLOCKED_TERM not in response.text  # counts, never the terms
    assert {"name", "description", "threshold", "input", "output", "terms", "patterns"} == set(categories["spam"])
    assert body["layers"] == {
        "terms": True,
        "classifier": False,
        "profanity": True,
        "guard": False,
        "ocr": False,
        "codes": False,
        "nsfw": False,
        "nudenet": False,
        "vlm_question": False,
    }
    assert body["guard_model"] is None
