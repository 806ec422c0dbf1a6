"""Decision counts per time bucket, direction, action and category, aggregated by the database.

Buckets are aligned to the UTC epoch grid (an ``hour`` bucket is 12:00-13:00 UTC whatever ``since``
is), so the same decision always falls in the same bucket. The bucket of a row is
``epoch_seconds(created_at) // bucket_s``, grouped by in SQL. Only the epoch extraction differs per
dialect (``_EpochSeconds``); each form is exact integer seconds of the stored naive-UTC value, and
independent of the session time zone:

* SQLite: ``CAST(strftime('%s', substr(created_at, 1, 19)) AS INTEGER)`` (the text up to the seconds)
* PostgreSQL: ``CAST(FLOOR(EXTRACT(EPOCH FROM created_at)) AS BIGINT)`` (a ``timestamp without time
  zone`` has its epoch counted as UTC)
* MySQL / MariaDB: ``TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', created_at)`` (``UNIX_TIMESTAMP``
  would apply the session time zone)

Whole seconds suffice: bucket widths are whole seconds, so dropping a record's fraction of a second
never moves it across a bucket edge. The division is integer division (``_IntDiv``): ``/`` of two
integers on SQLite and PostgreSQL, ``DIV`` on MySQL, where ``/`` is a rounded DECIMAL division (and
SQLAlchemy's ``//`` renders ``FLOOR(a / b)``). Fired categories come from the ``audit_categories``
child table by a LEFT JOIN: a decision is counted once per fired category, and once with category
NULL when none fired; the per-decision counts are a second GROUP BY without the join, so a decision
with two categories is one decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Connection, func, literal, select
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement

from pipelines.audit.record import Action, Direction
from pipelines.audit.schema import audit_categories, audit_records

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NAMED_BUCKETS: dict[str, int] = {"minute": 60, "hour": 3600, "day": 86400}


class StatsRangeError(ValueError):
    """A window the stats refuse; ``param`` names the query parameter to change, ``code`` is the API's."""

    def __init__(self, message: str, *, param: str, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.param = param
        self.code = code


class _EpochSeconds(FunctionElement[int]):
    """Whole seconds since 1970-01-01 UTC of a naive-UTC ``DateTime`` column, per dialect."""

    type = BigInteger()
    name = "epoch_seconds"
    inherit_cache = True


@compiles(_EpochSeconds)
def _epoch_unsupported(element: _EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"audit stats support SQLite, PostgreSQL and MySQL/MariaDB, not {compiler.dialect.name}")


@compiles(_EpochSeconds, "sqlite")
def _epoch_sqlite(element: _EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    # Only "YYYY-MM-DD HH:MM:SS": SQLite reads fractions as milliseconds, so 12:59:59.9999 would become 13:00.
    return f"CAST(strftime('%s', substr({compiler.process(element.clauses, **kw)}, 1, 19)) AS INTEGER)"


@compiles(_EpochSeconds, "postgresql")
def _epoch_postgresql(element: _EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})) AS BIGINT)"


@compiles(_EpochSeconds, "mysql")
@compiles(_EpochSeconds, "mariadb")
def _epoch_mysql(element: _EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {compiler.process(element.clauses, **kw)})"


class _IntDiv(FunctionElement[int]):
    """Integer division of two non-negative integers (``a``, ``b``)."""

    type = BigInteger()
    name = "int_div"
    inherit_cache = True


@compiles(_IntDiv)
def _int_div(element: _IntDiv, compiler: SQLCompiler, **kw: Any) -> str:
    dividend, divisor = element.clauses
    return f"({compiler.process(dividend, **kw)} / {compiler.process(divisor, **kw)})"


@compiles(_IntDiv, "mysql")
@compiles(_IntDiv, "mariadb")
def _int_div_mysql(element: _IntDiv, compiler: SQLCompiler, **kw: Any) -> str:
    dividend, divisor = element.clauses
    return f"({compiler.process(dividend, **kw)} DIV {compiler.process(divisor, **kw)})"


def bucket_seconds(bucket: str | int) -> int:
    """``minute`` / ``hour`` / ``day`` or a positive number of seconds (an int or its digits)."""
    if isinstance(bucket, str) and bucket in NAMED_BUCKETS:
        return NAMED_BUCKETS[bucket]
    if isinstance(bucket, str) and bucket.isascii() and bucket.isdigit():
        bucket = int(bucket)
    if isinstance(bucket, int) and not isinstance(bucket, bool) and bucket >= 1:
        return bucket
    raise StatsRangeError(f"bucket must be one of {sorted(NAMED_BUCKETS)} or whole seconds >= 1", param="bucket")


def _floor_index(when: datetime, bucket_s: int) -> int:
    return (when - EPOCH) // timedelta(seconds=bucket_s)


@dataclass(frozen=True)
class StatsWindow:
    """``[since, until)`` cut into ``bucket_s`` buckets of the epoch grid; the first and last may be partial."""

    since: datetime
    until: datetime
    bucket_s: int

    @classmethod
    def plan(
        cls,
        *,
        since: datetime | None,
        until: datetime | None,
        bucket: str | int,
        max_buckets: int,
        default_window_s: float,
        now: datetime,
    ) -> StatsWindow:
        """``until`` defaults to ``now``, ``since`` to ``default_window_s`` before ``until``; refuses an empty
        window and one of more than ``max_buckets`` buckets."""
        bucket_s = bucket_seconds(bucket)
        for name, value in (("since", since), ("until", until)):
            if value is not None and value.tzinfo is None:
                raise StatsRangeError(f"{name} must be timezone-aware", param=name)
        try:
            end = (until or now).astimezone(UTC)
        except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past the last representable instant
            raise StatsRangeError("until is out of range", param="until") from None
        try:
            start = (since or end - timedelta(seconds=default_window_s)).astimezone(UTC)
        except OverflowError:
            raise StatsRangeError("since is out of range", param="since" if since else "until") from None
        if end <= start:
            raise StatsRangeError("until must be later than since", param="until")
        window = cls(start, end, bucket_s)
        if window.bucket_count > max_buckets:
            raise StatsRangeError(
                f"since..until spans {window.bucket_count} buckets of {bucket_s} s; at most {max_buckets} are "
                "allowed: choose a larger bucket or a shorter range",
                param="bucket",
                code="too_many_buckets",
            )
        return window

    @property
    def first_index(self) -> int:
        return _floor_index(self.since, self.bucket_s)

    @property
    def bucket_count(self) -> int:
        last = _floor_index(self.until - timedelta(microseconds=1), self.bucket_s)  # until is exclusive
        return last - self.first_index + 1

    def start_of(self, index: int) -> datetime:
        return EPOCH + timedelta(seconds=index * self.bucket_s)

    def starts(self) -> list[datetime]:
        first = self.first_index
        return [self.start_of(first + offset) for offset in range(self.bucket_count)]


@dataclass(frozen=True)
class BucketCount:
    """``category`` is None in per-decision counts, and in per-category counts for decisions where none fired."""

    start: datetime
    direction: Direction
    action: Action
    category: str | None
    count: int


@dataclass(frozen=True)
class AuditStats:
    window: StatsWindow
    decisions: list[BucketCount]  # each decision once, per (bucket, direction, action)
    categories: list[BucketCount]  # once per fired category (None: nothing fired)

    @classmethod
    def empty(cls, window: StatsWindow) -> AuditStats:
        return cls(window, [], [])


def _sort_key(row: BucketCount) -> tuple[datetime, str, str, bool, str]:
    return row.start, row.direction, row.action, row.category is not None, row.category or ""


def aggregate(conn: Connection, window: StatsWindow) -> AuditStats:
    """Both GROUP BY queries, on one connection; ordering is done here (NULLs sort differently per backend)."""
    records = audit_records.c
    bucket: ColumnElement[int] = _IntDiv(_EpochSeconds(records.created_at), literal(window.bucket_s, BigInteger))
    in_window = (records.created_at >= window.since, records.created_at < window.until)

    per_decision = (
        select(bucket.label("bucket"), records.direction, records.action).where(*in_window).subquery("per_decision")
    )
    decision_rows = conn.execute(
        select(
            per_decision.c.bucket, per_decision.c.direction, per_decision.c.action, func.count().label("n")
        ).group_by(per_decision.c.bucket, per_decision.c.direction, per_decision.c.action)
    ).all()

    per_category = (
        select(bucket.label("bucket"), records.direction, records.action, audit_categories.c.category.label("category"))
        .select_from(audit_records.outerjoin(audit_categories, audit_categories.c.record_id == records.id))
        .where(*in_window)
        .subquery("per_category")
    )
    p = per_category.c
    category_rows = conn.execute(
        select(p.bucket, p.direction, p.action, p.category, func.count().label("n")).group_by(
            p.bucket, p.direction, p.action, p.category
        )
    ).all()

    decisions = [
        BucketCount(window.start_of(int(r.bucket)), r.direction, r.action, None, int(r.n)) for r in decision_rows
    ]
    categories = [
        BucketCount(window.start_of(int(r.bucket)), r.direction, r.action, r.category, int(r.n)) for r in category_rows
    ]
    return AuditStats(window, sorted(decisions, key=_sort_key), sorted(categories, key=_sort_key))
