"""Decision counts per bucket, grouped by the database, on SQLite, PostgreSQL and MariaDB: known records,
exact counts per bucket, bucket edges, and the window checks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pipelines.audit import AuditLog
from pipelines.audit.stats import AuditStats, StatsRangeError, StatsWindow
from tests.unit.audit.test_audit import T0, WAIT_S, make_config, make_record

HOUR = timedelta(hours=1)
TICK = timedelta(microseconds=1)
LIMITS: dict[str, Any] = {"max_buckets": 100, "default_window_s": 86400.0, "now": T0 + 3 * HOUR}

# (created_at, direction, action, categories); T0 is 12:00 UTC
RECORDS = [
    (T0 - TICK, "input", "block", ["spam"]),  # before the window
    (T0, "input", "allow", []),
    (T0 + HOUR - TICK, "input", "block", ["spam"]),  # the last instant of the 12:00 bucket
    (T0 + HOUR, "input", "block", ["spam", "pii"]),  # the first of the 13:00 bucket; two categories
    (T0 + 1.5 * HOUR, "output", "redact", ["pii"]),
    (T0 + 1.5 * HOUR, "output", "redact", ["pii"]),
    (T0 + 2 * HOUR + timedelta(minutes=10), "input", "flag", ["violence"]),
    (T0 + 3 * HOUR, "input", "block", ["spam"]),  # at `until`: excluded
]


@pytest.fixture
def log(tmp_path: Path, audit_url: str) -> Iterator[AuditLog]:
    with AuditLog(make_config(tmp_path, url=audit_url)) as audit_log:
        for created_at, direction, action, categories in RECORDS:
            audit_log.record(
                make_record(
                    created_at=created_at,
                    direction=direction,
                    action=action,
                    categories=categories,
                    scores=dict.fromkeys(categories, 1.0),
                )
            )
        assert audit_log.flush(WAIT_S)
        yield audit_log


def stats(log: AuditLog, **window: Any) -> AuditStats:
    return log.stats(StatsWindow.plan(**({"since": T0, "until": T0 + 3 * HOUR, "bucket": "hour"} | LIMITS | window)))


def decisions(result: AuditStats) -> list[tuple[datetime, str, str, int]]:
    return [(r.start, r.direction, r.action, r.count) for r in result.decisions]


def categories(result: AuditStats) -> list[tuple[datetime, str, str, str | None, int]]:
    return [(r.start, r.direction, r.action, r.category, r.count) for r in result.categories]


def test_hourly_counts_by_direction_action_and_category(log: AuditLog) -> None:
    result = stats(log)
    assert result.window.starts() == [T0, T0 + HOUR, T0 + 2 * HOUR]
    assert decisions(result) == [
        (T0, "input", "allow", 1),
        (T0, "input", "block", 1),
        (T0 + HOUR, "input", "block", 1),  # one decision, though two categories fired
        (T0 + HOUR, "output", "redact", 2),
        (T0 + 2 * HOUR, "input", "flag", 1),
    ]
    assert categories(result) == [
        (T0, "input", "allow", None, 1),  # nothing fired
        (T0, "input", "block", "spam", 1),
        (T0 + HOUR, "input", "block", "pii", 1),
        (T0 + HOUR, "input", "block", "spam", 1),
        (T0 + HOUR, "output", "redact", "pii", 2),
        (T0 + 2 * HOUR, "input", "flag", "violence", 1),
    ]


def test_buckets_are_on_the_epoch_grid_whatever_since_is(log: AuditLog) -> None:
    result = stats(log, since=T0 + HOUR / 2, until=T0 + 1.75 * HOUR)
    assert result.window.starts() == [T0, T0 + HOUR]  # the first and last bucket are partial
    assert decisions(result) == [
        (T0, "input", "block", 1),
        (T0 + HOUR, "input", "block", 1),
        (T0 + HOUR, "output", "redact", 2),
    ]


def test_buckets_in_seconds_and_days(log: AuditLog) -> None:
    half_hour = HOUR / 2
    assert decisions(stats(log, bucket=1800)) == [
        (T0, "input", "allow", 1),
        (T0 + half_hour, "input", "block", 1),
        (T0 + 2 * half_hour, "input", "block", 1),
        (T0 + 3 * half_hour, "output", "redact", 2),
        (T0 + 4 * half_hour, "input", "flag", 1),
    ]
    midnight = datetime(2025, 1, 1, tzinfo=UTC)
    daily = stats(log, since=midnight, until=midnight + timedelta(days=1), bucket="day")
    assert daily.window.starts() == [midnight]
    assert decisions(daily) == [
        (midnight, "input", "allow", 1),
        (midnight, "input", "block", 4),
        (midnight, "input", "flag", 1),
        (midnight, "output", "redact", 2),
    ]
    minutes = stats(
        log, since=T0 + HOUR - timedelta(minutes=1), until=T0 + HOUR + timedelta(minutes=1), bucket="minute"
    )
    assert decisions(minutes) == [
        (T0 + HOUR - timedelta(minutes=1), "input", "block", 1),
        (T0 + HOUR, "input", "block", 1),
    ]


def test_the_last_instant_of_a_day_stays_in_its_day(log: AuditLog) -> None:
    """23:59:59.999999 is 86399/86400 of a day: a rounded division (MySQL's `/`) would move it to the next."""
    day = datetime(2025, 2, 1, tzinfo=UTC)
    for at in (day, day + timedelta(days=1) - TICK, day + timedelta(days=1)):
        log.record(make_record(created_at=at))
    assert log.flush(WAIT_S)
    result = stats(log, since=day, until=day + timedelta(days=2), bucket="day")
    assert decisions(result) == [(day, "input", "allow", 2), (day + timedelta(days=1), "input", "allow", 1)]
    week = stats(log, since=day, until=day + timedelta(days=2), bucket=7 * 86400)  # 1970-01-01 was a Thursday
    assert decisions(week) == [(datetime(2025, 1, 30, tzinfo=UTC), "input", "allow", 3)]


def test_times_in_other_zones_mean_the_same_instant(log: AuditLog) -> None:
    local = datetime.fromisoformat("2025-01-01T14:00:00+02:00")  # 12:00 UTC
    assert stats(log, since=local, until=local + HOUR) == stats(log, until=T0 + HOUR)


def test_an_empty_window_has_its_buckets_and_no_counts(log: AuditLog) -> None:
    result = stats(log, since=T0 + timedelta(days=7), until=T0 + timedelta(days=7, hours=2))
    assert len(result.window.starts()) == 2
    assert result.decisions == [] and result.categories == []


def test_the_database_groups_the_rows(log: AuditLog) -> None:
    """Two statements, each with GROUP BY, fetching one row per group, not one per record."""
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(sa.Engine, "before_cursor_execute", seen)
    try:
        result = stats(log, since=T0 - timedelta(days=1), until=T0 + timedelta(days=1), bucket="day")
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", seen)
    grouped = [s for s in statements if "GROUP BY" in s.upper()]
    assert len(grouped) == 2
    assert sum(r.count for r in result.decisions) == len(RECORDS)
    assert len(result.decisions) == 4  # (day, direction, action) groups


def test_window_plan() -> None:
    plan = StatsWindow.plan
    assert plan(since=None, until=None, bucket="hour", **LIMITS).since == LIMITS["now"] - timedelta(days=1)
    assert plan(since=T0, until=T0 + 100 * HOUR, bucket="hour", **LIMITS).bucket_count == 100
    assert plan(since=T0 + TICK, until=T0 + HOUR + TICK, bucket="hour", **LIMITS).bucket_count == 2
    refused = [
        ({"since": T0, "until": T0 + 101 * HOUR, "bucket": "hour"}, "bucket"),
        ({"since": T0, "until": T0, "bucket": "hour"}, "until"),
        ({"since": T0 + HOUR, "until": T0, "bucket": "hour"}, "until"),
        ({"since": datetime(2025, 1, 1), "until": None, "bucket": "hour"}, "since"),  # naive
        ({"since": None, "until": None, "bucket": "week"}, "bucket"),
        ({"since": None, "until": None, "bucket": 0}, "bucket"),
        ({"since": None, "until": datetime(1, 1, 1, tzinfo=UTC), "bucket": "hour"}, "until"),  # no day before it
        ({"since": datetime.fromisoformat("9999-12-31T23:00:00-05:00"), "until": None, "bucket": "day"}, "since"),
    ]
    for window, param in refused:
        with pytest.raises(StatsRangeError) as caught:
            plan(**window, **LIMITS)
        assert caught.value.param == param, window
