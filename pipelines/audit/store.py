"""The SQL side of the audit log: lazy engine, idempotent batch inserts, keyset queries.

Inserts are insert-or-ignore done portably: inside the transaction the ids already stored
are selected first and only the others are inserted. A concurrent writer inserting the same
ids in between (two processes replaying one journal) raises ``IntegrityError``; one retry
then sees those ids. No dialect-specific ON CONFLICT / INSERT IGNORE is needed.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict, get_args
from urllib.parse import quote, quote_plus

from sqlalchemy import ColumnElement, Connection, Engine, and_, create_engine, insert, inspect, or_, select, text
from sqlalchemy.engine import URL, RowMapping, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.pool import StaticPool

from pipelines.audit.record import DIGEST_SCHEME_MAX_LEN, Action, AuditRecord, Direction
from pipelines.audit.schema import UNKEYED_DIGEST, audit_categories, audit_records, metadata
from pipelines.audit.stats import AuditStats, StatsWindow, aggregate

_ID_CHUNK = 500  # ids per IN (...) lookup: well below every backend's bound-parameter limit
_MAX_ERROR_CHARS = 500
_MASK = "***"
_USERINFO = re.compile(r"(://[^:/@\s]*):[^@\s]*@")
_ACTIONS = frozenset(get_args(Action))
_DIRECTIONS = frozenset(get_args(Direction))


def mask_secrets(text: str, url: URL) -> str:
    """``text`` with the URL's password (raw or URL-quoted) and any ``user:password@`` replaced."""
    password = url.password
    if password:
        for form in {str(password), quote(str(password), safe=""), quote_plus(str(password))}:
            text = text.replace(form, _MASK)
    return _USERINFO.sub(rf"\1:{_MASK}@", text)


def describe_error(exc: BaseException, url: URL) -> str:
    """A short, credential-free description; DB errors lose the SQL text SQLAlchemy appends."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    message = mask_secrets(f"{type(cause).__name__}: {cause}", url)
    return message[:_MAX_ERROR_CHARS]


def encode_cursor(record: AuditRecord) -> str:
    raw = json.dumps([record.created_at.isoformat(), record.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, record_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        when = datetime.fromisoformat(created_at)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ValueError("invalid cursor") from exc
    if when.tzinfo is None or not isinstance(record_id, str):
        raise ValueError("invalid cursor")
    return when, record_id


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")


def _is_memory_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _create_engine(url: URL) -> Engine:
    """``hide_parameters`` keeps record content out of error messages and logs."""
    if _is_memory_sqlite(url):
        # One shared connection: the default pool would give each thread its own empty database.
        return create_engine(url, hide_parameters=True, poolclass=StaticPool, connect_args={"check_same_thread": False})
    if url.get_backend_name() == "sqlite":
        Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
        return create_engine(url, hide_parameters=True)
    return create_engine(url, hide_parameters=True, pool_pre_ping=True)


def _has_digest_column(engine: Engine) -> bool:
    return "digest" in {column["name"] for column in inspect(engine).get_columns(audit_records.name)}


def add_digest_column(engine: Engine) -> None:
    """A table created before keyed digests lacks ``digest``: add it, every existing row marked as a
    bare SHA-256. ``create_all`` creates missing tables only, never missing columns."""
    if _has_digest_column(engine):
        return
    ddl = (
        f"ALTER TABLE {audit_records.name} ADD COLUMN digest VARCHAR({DIGEST_SCHEME_MAX_LEN}) "
        f"DEFAULT '{UNKEYED_DIGEST}' NOT NULL"
    )
    try:
        with engine.begin() as conn:
            conn.execute(text(ddl))
    except DBAPIError:
        if not _has_digest_column(engine):  # else another process added it first
            raise


def _record_row(record: AuditRecord) -> dict[str, Any]:
    return record.model_dump()


def _category_rows(records: Iterable[AuditRecord]) -> list[dict[str, str]]:
    return [{"record_id": r.id, "category": c} for r in records for c in r.categories]


def _existing_ids(conn: Connection, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        found.update(conn.scalars(select(audit_records.c.id).where(audit_records.c.id.in_(chunk))))
    return found


def _row_record(row: RowMapping) -> AuditRecord:
    return AuditRecord.model_validate(dict(row))


class DecisionFilters(TypedDict, total=False):
    """The keyword filters of ``AuditStore.query``, for the wrappers that pass them through."""

    since: datetime | None
    until: datetime | None
    category: str | None
    action: str | None
    direction: str | None
    request_id: str | None
    limit: int
    cursor: str | None


class AuditStore:
    """Thread-safe access to the audit tables. The engine and schema are created on first use,
    so a database that is down at startup only shows up as a failed write (and in health)."""

    def __init__(self, url: str | URL, *, max_query_limit: int, engine: Engine | None = None) -> None:
        self._engine = engine
        self._owns_engine = engine is None
        self.url: URL = engine.url if engine is not None else make_url(url)
        self._max_query_limit = max_query_limit
        self._schema_ready = False
        self._lock = threading.Lock()

    def _ready_engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = _create_engine(self.url)
            if not self._schema_ready:
                metadata.create_all(self._engine)
                add_digest_column(self._engine)
                self._schema_ready = True
            return self._engine

    def write(self, records: Sequence[AuditRecord]) -> int:
        """Insert the records not stored yet, in one transaction; returns how many were new."""
        unique = {r.id: r for r in records}
        if not unique:
            return 0
        engine = self._ready_engine()
        try:
            return self._insert_new(engine, unique)
        except IntegrityError:
            return self._insert_new(engine, unique)

    @staticmethod
    def _insert_new(engine: Engine, records: dict[str, AuditRecord]) -> int:
        with engine.begin() as conn:
            existing = _existing_ids(conn, list(records))
            fresh = [r for record_id, r in records.items() if record_id not in existing]
            if fresh:
                conn.execute(insert(audit_records), [_record_row(r) for r in fresh])
                categories = _category_rows(fresh)
                if categories:
                    conn.execute(insert(audit_categories), categories)
            return len(fresh)

    def query(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        category: str | None = None,
        action: str | None = None,
        direction: str | None = None,
        request_id: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[AuditRecord], str | None]:
        """Newest first; ``since`` inclusive, ``until`` exclusive. Returns (page, next cursor or None)."""
        if limit < 1:
            raise ValueError("limit must be >= 1")
        page_size = min(limit, self._max_query_limit)
        conditions = self._conditions(since, until, category, action, direction, request_id, cursor)
        stmt = (
            select(audit_records)
            .where(*conditions)
            .order_by(audit_records.c.created_at.desc(), audit_records.c.id.desc())
            .limit(page_size + 1)  # one extra row tells whether there is a next page
        )
        with self._ready_engine().connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        page = [_row_record(row) for row in rows[:page_size]]
        next_cursor = encode_cursor(page[-1]) if len(rows) > page_size else None
        return page, next_cursor

    def stats(self, window: StatsWindow) -> AuditStats:
        """Decision counts per bucket, grouped by the database (``pipelines.audit.stats``)."""
        with self._ready_engine().connect() as conn:
            return aggregate(conn, window)

    @staticmethod
    def _conditions(
        since: datetime | None,
        until: datetime | None,
        category: str | None,
        action: str | None,
        direction: str | None,
        request_id: str | None,
        cursor: str | None,
    ) -> list[ColumnElement[bool]]:
        _require_aware("since", since)
        _require_aware("until", until)
        if action is not None and action not in _ACTIONS:
            raise ValueError(f"action must be one of {sorted(_ACTIONS)}")
        if direction is not None and direction not in _DIRECTIONS:
            raise ValueError(f"direction must be one of {sorted(_DIRECTIONS)}")
        c = audit_records.c
        conditions: list[ColumnElement[bool]] = []
        if since is not None:
            conditions.append(c.created_at >= since)
        if until is not None:
            conditions.append(c.created_at < until)
        if action is not None:
            conditions.append(c.action == action)
        if direction is not None:
            conditions.append(c.direction == direction)
        if request_id is not None:
            conditions.append(c.request_id == request_id)
        if category is not None:
            fired = select(audit_categories.c.record_id).where(audit_categories.c.category == category)
            conditions.append(c.id.in_(fired))
        if cursor is not None:
            after_at, after_id = decode_cursor(cursor)
            # Spelled out rather than a row-value comparison, which not every backend supports.
            conditions.append(or_(c.created_at < after_at, and_(c.created_at == after_at, c.id < after_id)))
        return conditions

    def dispose(self) -> None:
        with self._lock:
            if self._engine is not None and self._owns_engine:
                self._engine.dispose()
