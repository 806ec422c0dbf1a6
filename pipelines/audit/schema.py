"""Portable SQL schema of the audit store (SQLAlchemy Core).

``audit_records`` holds one row per decision; fired categories are also in the child table
``audit_categories`` so that the category filter is an indexed lookup on every backend
(JSON containment operators differ between SQLite, PostgreSQL and MySQL).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Dialect, ForeignKey, Index, MetaData, String, Table, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator, TypeEngine

from pipelines.audit.record import (
    DIGEST_SCHEME_MAX_LEN,
    ID_LEN,
    LABEL_MAX_LEN,
    MODEL_MAX_LEN,
    REQUEST_ID_MAX_LEN,
    SHA256_LEN,
)

_MYSQL = ("mysql", "mariadb")
_MICROSECONDS = 6
_SHORT_ENUM_LEN = 8  # "input"/"output", "allow"/"flag"/"redact"/"block"


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC, returned as aware UTC.

    SQLite and MySQL keep no UTC offset; one representation everywhere keeps the keyset
    comparisons of ``query`` exact. MySQL gets microsecond precision (its default is seconds).
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in _MYSQL:
            return dialect.type_descriptor(mysql.DATETIME(fsp=_MICROSECONDS))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("audit timestamps must be timezone-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UNKEYED_DIGEST = "sha256"  # what every row written before keyed digests holds

metadata = MetaData()

audit_records = Table(
    "audit_records",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("request_id", String(REQUEST_ID_MAX_LEN), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("direction", String(_SHORT_ENUM_LEN), nullable=False),
    Column("action", String(_SHORT_ENUM_LEN), nullable=False),
    Column("categories", JSON, nullable=False),
    Column("scores", JSON, nullable=False),
    Column("policy_version", String(LABEL_MAX_LEN), nullable=False),
    Column("model", String(MODEL_MAX_LEN), nullable=True),
    Column("content_sha256", String(SHA256_LEN), nullable=False),
    # Added after the first release: tables created before it get it from AuditStore (see add_digest_column).
    Column("digest", String(DIGEST_SCHEME_MAX_LEN), nullable=False, server_default=UNKEYED_DIGEST),
    Column("content", Text().with_variant(mysql.LONGTEXT(), *_MYSQL), nullable=True),
    Column("extra", JSON, nullable=False),
    # (created_at, id) is the keyset order of `query`; the others serve the dashboard filters.
    Index("ix_audit_records_created_at_id", "created_at", "id"),
    Index("ix_audit_records_request_id", "request_id"),
    Index("ix_audit_records_action_created_at", "action", "created_at"),
    Index("ix_audit_records_direction_created_at", "direction", "created_at"),
)

audit_categories = Table(
    "audit_categories",
    metadata,
    Column("record_id", String(ID_LEN), ForeignKey("audit_records.id", ondelete="CASCADE"), primary_key=True),
    Column("category", String(LABEL_MAX_LEN), primary_key=True),
    Index("ix_audit_categories_category_record_id", "category", "record_id"),
)
