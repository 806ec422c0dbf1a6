"""Audit log: journal durability, replay, outage handling and the dashboard query API (SQLite in tmp_path)."""

from __future__ import annotations

import hashlib
import hmac
import math
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from pipelines.audit import AuditConfig, AuditLog, AuditRecord, content_digest
from pipelines.audit import store as store_module
from pipelines.audit.store import AuditStore
from pipelines.core.secrets import SecretSourceError

ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
FAST = {"flush_interval_s": 0.02, "retry_initial_s": 0.01, "retry_max_s": 0.05, "fsync": False}
WAIT_S = 10.0
DIGEST_KEY = b"test-digest-key-of-this-deployment"
RECORD_FIELDS: dict[str, Any] = {"request_id": "req-1", "direction": "input", "action": "allow", "policy_version": "p1"}


def make_config(tmp_path: Path, **overrides: Any) -> AuditConfig:
    fields: dict[str, Any] = {
        "url": f"sqlite:///{tmp_path / 'audit.db'}",
        "journal_dir": str(tmp_path / "journal"),
        **FAST,
    }
    return AuditConfig(**(fields | overrides))


def make_record(**overrides: Any) -> AuditRecord:
    fields = dict(RECORD_FIELDS)
    content = overrides.pop("content", "some text")
    keep = overrides.pop("keep_content", False)
    return AuditRecord.for_content(content, digest_key=DIGEST_KEY, keep_content=keep, **(fields | overrides))


def segments(journal_dir: Path) -> list[Path]:
    return sorted(journal_dir.glob("journal-*.jsonl"))


def query_all(log: AuditLog, **filters: Any) -> list[AuditRecord]:
    records, cursor = log.query(limit=1000, **filters)
    assert cursor is None
    return records


def wait_until(predicate: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def count_rows(db: Path, table: str) -> int:
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()


def write_orphan_segment(journal_dir: Path, records: list[AuditRecord], *, tail: str = "") -> Path:
    """A segment as a crashed process leaves it: owner id with no live lock holder."""
    journal_dir.mkdir(parents=True, exist_ok=True)
    path = journal_dir / f"journal-{uuid.uuid4().hex}-{1:012d}.jsonl"
    path.write_text("".join(r.model_dump_json() + "\n" for r in records) + tail, encoding="utf-8")
    return path


@pytest.fixture
def log(tmp_path: Path, audit_url: str) -> Iterator[AuditLog]:
    """On each backend (SQLite, PostgreSQL, MariaDB: ``tests/unit/conftest.py``)."""
    with AuditLog(make_config(tmp_path, url=audit_url)) as audit_log:
        yield audit_log


# -- record / query ---------------------------------------------------------------------------


def test_record_is_visible_after_flush_and_segments_are_deleted(log: AuditLog, tmp_path: Path) -> None:
    rec = make_record(
        categories=["violence", "hate"],
        scores={"violence": 0.91, "hate": 0.4},
        action="block",
        direction="output",
        model="qwen3-vl",
        extra={"route": "/v1/chat/completions"},
    )
    log.record(rec)
    assert log.flush(WAIT_S)

    (stored,) = query_all(log)
    assert stored == rec
    assert stored.created_at.tzinfo is not None
    assert log.health() == {"ok": True, "pending": 0, "last_error": None}
    assert segments(tmp_path / "journal") == []


def test_batch_size_seals_and_inserts_without_waiting_for_the_interval(tmp_path: Path) -> None:
    with AuditLog(make_config(tmp_path, flush_interval_s=60, batch_size=5)) as audit_log:
        for i in range(5):
            audit_log.record(make_record(request_id=f"r{i}"))
        wait_until(lambda: len(query_all(audit_log)) == 5)


def test_keep_content_false_stores_only_the_hash_and_never_journals_the_text(tmp_path: Path) -> None:
    secret = "my phone number is 555-0100"
    rec = make_record(content=secret, keep_content=True)
    assert rec.content == secret

    with AuditLog(make_config(tmp_path, flush_interval_s=60)) as audit_log:
        audit_log.record(rec)
        (segment,) = segments(tmp_path / "journal")
        assert secret not in segment.read_text()
        assert audit_log.flush(WAIT_S)
        (stored,) = query_all(audit_log)
    assert stored.content is None
    assert stored.content_sha256 == content_digest(secret, DIGEST_KEY) and stored.digest == "hmac-sha256"


def test_keep_content_true_stores_the_text(tmp_path: Path, audit_url: str) -> None:
    with AuditLog(make_config(tmp_path, url=audit_url, keep_content=True)) as audit_log:
        audit_log.record(make_record(content="kept", keep_content=True))
        audit_log.record(make_record(content=b"\x89PNG...", keep_content=True))  # image bytes: hash only
        assert audit_log.flush(WAIT_S)
        contents = sorted((r.content or "") for r in query_all(audit_log))
    assert contents == ["", "kept"]


def test_filters(log: AuditLog) -> None:
    specs = [
        # minute, direction, action, categories, request_id
        (0, "input", "allow", [], "a"),
        (1, "input", "flag", ["sexual"], "a"),
        (2, "output", "redact", ["pii"], "b"),
        (3, "output", "block", ["violence", "pii"], "c"),
        (4, "input", "block", ["violence"], "d"),
    ]
    ids = {}
    for minute, direction, action, categories, request_id in specs:
        rec = make_record(
            created_at=T0 + timedelta(minutes=minute),
            direction=direction,
            action=action,
            categories=categories,
            request_id=request_id,
        )
        ids[minute] = rec.id
        log.record(rec)
    assert log.flush(WAIT_S)

    def minutes(**filters: Any) -> list[int]:
        by_id = {v: k for k, v in ids.items()}
        return [by_id[r.id] for r in query_all(log, **filters)]

    assert minutes() == [4, 3, 2, 1, 0]  # newest first
    assert minutes(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3)) == [2, 1]
    assert minutes(category="pii") == [3, 2]
    assert minutes(category="violence", direction="output") == [3]
    assert minutes(action="block") == [4, 3]
    assert minutes(direction="input") == [4, 1, 0]
    assert minutes(request_id="a") == [1, 0]
    assert minutes(category="nothing") == []
    # Filters in other time zones mean the same instant.
    tz = datetime.fromisoformat("2025-01-01T14:02:00+02:00")
    assert minutes(since=tz) == [4, 3, 2]


def test_keyset_paging_has_no_duplicates_or_gaps(log: AuditLog) -> None:
    # Several records share a timestamp, so the id tiebreak matters.
    records = [make_record(created_at=T0 + timedelta(seconds=i // 3), request_id=f"r{i}") for i in range(47)]
    for rec in records:
        log.record(rec)
    assert log.flush(WAIT_S)

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page, cursor = log.query(limit=10, cursor=cursor, since=T0)
        seen += [r.id for r in page]
        pages += 1
        if cursor is None:
            break
    expected = [r.id for r in sorted(records, key=lambda r: (r.created_at, r.id), reverse=True)]
    assert seen == expected
    assert pages == math.ceil(len(records) / 10)


def test_query_limit_is_capped_and_arguments_validated(tmp_path: Path, audit_url: str) -> None:
    with AuditLog(make_config(tmp_path, url=audit_url, max_query_limit=3)) as audit_log:
        for i in range(5):
            audit_log.record(make_record(request_id=f"r{i}"))
        assert audit_log.flush(WAIT_S)
        page, cursor = audit_log.query(limit=100)
        assert len(page) == 3 and cursor is not None
        for bad in (
            {"limit": 0},
            {"cursor": "not-a-cursor"},
            {"since": datetime(2025, 1, 1)},  # naive
            {"action": "delete"},
            {"direction": "sideways"},
        ):
            with pytest.raises(ValueError):
                audit_log.query(**bad)


def test_record_validation() -> None:
    with pytest.raises(ValidationError):
        make_record(created_at=datetime(2025, 1, 1))  # naive
    with pytest.raises(ValidationError):
        make_record(scores={"x": float("nan")})
    with pytest.raises(ValidationError):
        make_record(action="delete")
    with pytest.raises(ValidationError):
        make_record(extra={"blob": "x" * 10_000})
    with pytest.raises(ValidationError):
        make_record(unknown_field=1)
    rec = make_record(created_at=datetime.fromisoformat("2025-01-01T14:00:00+02:00"), categories=["a", "b", "a"])
    assert rec.created_at == T0 and rec.created_at.utcoffset() == timedelta(0)
    assert rec.categories == ["a", "b"]


# -- latency / durability ---------------------------------------------------------------------


def test_record_stays_fast_while_the_database_is_slow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = AuditStore.write
    in_slow_write, db_slow = threading.Event(), threading.Event()
    db_slow.set()

    def slow_write(self: AuditStore, records: Any) -> int:
        if db_slow.is_set():
            in_slow_write.set()
            time.sleep(2.0)  # longer than 40 journal appends take even on a loaded 2-core machine
            in_slow_write.clear()
        return real_write(self, records)

    monkeypatch.setattr(AuditStore, "write", slow_write)
    # fsync off: this measures the database's influence, not the test machine's disk.
    with AuditLog(make_config(tmp_path, batch_size=4)) as audit_log:
        for i in range(4):  # fills and seals a segment: the writer starts a (slow) insert
            audit_log.record(make_record(request_id=f"first-{i}"))
        assert in_slow_write.wait(WAIT_S)
        latencies = []
        for i in range(40):
            start = time.perf_counter()
            audit_log.record(make_record(request_id=f"r{i}"))
            latencies.append(time.perf_counter() - start)
        assert in_slow_write.is_set()  # the database was busy the whole time
        assert max(latencies) < 0.020, f"slowest record() took {max(latencies) * 1000:.1f} ms"
        db_slow.clear()
        assert audit_log.flush(WAIT_S)
        assert len(query_all(audit_log)) == 44


_CRASHING_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pipelines.audit import AuditConfig, AuditLog, AuditRecord
    config = AuditConfig.model_validate_json(sys.argv[1])
    log = AuditLog(config)
    for i in range(int(sys.argv[2])):
        log.record(AuditRecord.for_content(f"text {i}", digest_key=log.digest_key, request_id=f"crash-{i}",
                                           direction="input",
                                           action="flag", categories=["spam"], policy_version="p1"))
    print(log.health()["pending"], flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_records_of_a_killed_process_are_replayed_exactly_once(tmp_path: Path) -> None:
    n = 60
    config = make_config(tmp_path, flush_interval_s=60, fsync=True)  # nothing is due before the kill
    child = subprocess.run(
        [sys.executable, "-c", _CRASHING_CHILD, config.model_dump_json(), str(n)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout.strip() == str(n)
    assert segments(tmp_path / "journal")
    assert not (tmp_path / "audit.db").exists()  # the child never reached the database

    with AuditLog(config) as audit_log:
        assert audit_log.flush(WAIT_S)
        stored = query_all(audit_log, category="spam")
    assert sorted(r.request_id for r in stored) == sorted(f"crash-{i}" for i in range(n))
    assert count_rows(tmp_path / "audit.db", "audit_records") == n
    assert segments(tmp_path / "journal") == []
    assert list((tmp_path / "journal").glob("owner-*.lock")) == []  # the dead owner's lock is cleared too


def test_replaying_the_same_segment_twice_does_not_duplicate(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    records = [make_record(request_id=f"r{i}", categories=["pii"]) for i in range(10)]
    journal = tmp_path / "journal"
    # A crash after commit but before the segment was deleted, and a line journaled twice.
    write_orphan_segment(journal, [*records, records[0]])
    with AuditLog(config) as audit_log:
        assert audit_log.flush(WAIT_S)
    write_orphan_segment(journal, records)
    with AuditLog(config) as audit_log:
        assert audit_log.flush(WAIT_S)
        assert len(query_all(audit_log, category="pii")) == 10
    assert count_rows(tmp_path / "audit.db", "audit_records") == 10
    assert count_rows(tmp_path / "audit.db", "audit_categories") == 10


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    good = make_record()
    write_orphan_segment(tmp_path / "journal", [good], tail=make_record().model_dump_json()[:40])
    with AuditLog(make_config(tmp_path)) as audit_log:
        assert audit_log.flush(WAIT_S)
        assert [r.id for r in query_all(audit_log)] == [good.id]
        assert audit_log.health()["ok"]


def test_segments_of_a_live_process_are_not_taken_over(tmp_path: Path) -> None:
    """Serve replicas on one node share the journal directory."""
    first = AuditLog(make_config(tmp_path, flush_interval_s=60))
    try:
        first.record(make_record())
        with AuditLog(make_config(tmp_path, flush_interval_s=60)) as second:
            assert second.health()["pending"] == 0
            assert len(segments(tmp_path / "journal")) == 1
        assert first.flush(WAIT_S)
        assert len(query_all(first)) == 1
    finally:
        first.close()


# -- outages ----------------------------------------------------------------------------------


def test_database_outage_keeps_records_in_the_journal_until_it_recovers(tmp_path: Path) -> None:
    blocker = tmp_path / "db-dir"
    blocker.write_text("a regular file where the database directory should be")
    config = make_config(tmp_path, url=f"sqlite:///{blocker / 'audit.db'}")
    with AuditLog(config) as audit_log:
        for i in range(3):
            audit_log.record(make_record(request_id=f"r{i}"))
        wait_until(lambda: not audit_log.health()["ok"])
        health = audit_log.health()
        assert health["pending"] == 3 and health["last_error"]
        assert not audit_log.flush(0.05)
        assert segments(tmp_path / "journal")

        blocker.unlink()  # the "database" comes back; the writer's retry creates it
        assert audit_log.flush(WAIT_S)
        assert len(query_all(audit_log)) == 3
        assert audit_log.health() == {"ok": True, "pending": 0, "last_error": None}


def test_records_journaled_during_an_outage_reach_a_database_after_restart(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    down = make_config(tmp_path, url=f"sqlite:///{blocker / 'audit.db'}")
    audit_log = AuditLog(down)
    audit_log.record(make_record(request_id="kept"))
    assert audit_log.close(timeout_s=0.1) is False
    with pytest.raises(RuntimeError):
        audit_log.record(make_record())

    with AuditLog(make_config(tmp_path)) as recovered:
        assert recovered.flush(WAIT_S)
        assert [r.request_id for r in query_all(recovered)] == ["kept"]


def test_health_errors_never_show_the_database_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    password = "s3cr@t/pw"
    url = "postgresql+psycopg2://audit:s3cr%40t%2Fpw@db.internal:5432/audit"

    def unreachable(*args: Any, **kwargs: Any) -> sa.Engine:
        # Some drivers echo the DSN they were given.
        raise OperationalError("connect", {}, Exception(f"could not connect to {url} (password={password})"))

    monkeypatch.setattr(store_module, "create_engine", unreachable)
    with AuditLog(make_config(tmp_path, url=url)) as audit_log:
        audit_log.record(make_record())
        wait_until(lambda: not audit_log.health()["ok"])
        error = audit_log.health()["last_error"]
        audit_log.close(timeout_s=0)
    assert "s3cr" not in error and "pw@" not in error
    assert "***" in error and "db.internal" in error


def test_close_is_idempotent_and_registered_at_exit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[Callable[..., Any]] = []
    monkeypatch.setattr("atexit.register", registered.append)
    audit_log = AuditLog(make_config(tmp_path, flush_interval_s=60))
    assert registered == [audit_log.close]
    audit_log.record(make_record())
    assert audit_log.close() is True  # close flushes
    assert audit_log.close() is True
    with pytest.raises(RuntimeError):
        audit_log.record(make_record())

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'audit.db'}")  # an injected engine works too
    with AuditLog(make_config(tmp_path), engine=engine) as other:
        assert len(query_all(other)) == 1


# --- keyed digests and secrets from the environment ----------------------------------------------------


def test_text_digests_are_keyed_with_the_deployment_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "my phone number is 555-0100"
    monkeypatch.setenv("QVS_TEST_DIGEST_KEY", "first-deployment-secret")
    (tmp_path / "digest-key").write_text("second-deployment-secret\n")
    digests = []
    sources = [{"digest_key_env": "QVS_TEST_DIGEST_KEY"}, {"digest_key_file": str(tmp_path / "digest-key")}]
    for index, source in enumerate(sources):
        with AuditLog(make_config(tmp_path / str(index), **source)) as audit_log:
            audit_log.record(AuditRecord.for_content(text, digest_key=audit_log.digest_key, **RECORD_FIELDS))
            assert audit_log.flush(WAIT_S)
            (stored,) = query_all(audit_log)
        assert stored.digest == "hmac-sha256"
        digests.append(stored.content_sha256)
    assert digests == [
        hmac.new(b"first-deployment-secret", text.encode(), hashlib.sha256).hexdigest(),
        hmac.new(b"second-deployment-secret", text.encode(), hashlib.sha256).hexdigest(),
    ]
    assert hashlib.sha256(text.encode()).hexdigest() not in digests  # a guess cannot be confirmed by its hash


def test_without_a_configured_digest_key_each_process_draws_its_own(tmp_path: Path) -> None:
    with AuditLog(make_config(tmp_path / "a")) as first, AuditLog(make_config(tmp_path / "b")) as second:
        assert len(first.digest_key) == 32 and first.digest_key != second.digest_key


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ({"digest_key_env": "QVS_NO_SUCH_DIGEST_KEY"}, "digest_key_env names 'QVS_NO_SUCH_DIGEST_KEY', which is unset"),
        ({"digest_key_env": "QVS_SHORT_DIGEST_KEY"}, "at least 16 characters"),
        ({"digest_key_file": "/nonexistent/digest-key"}, "digest_key_file '/nonexistent/digest-key' cannot be read"),
        ({"password_env": "QVS_NO_SUCH_DB_PASSWORD"}, "password_env names 'QVS_NO_SUCH_DB_PASSWORD', which is unset"),
    ],
)
def test_a_named_secret_source_that_holds_nothing_usable_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: dict[str, str], problem: str
) -> None:
    monkeypatch.delenv("QVS_NO_SUCH_DIGEST_KEY", raising=False)
    monkeypatch.delenv("QVS_NO_SUCH_DB_PASSWORD", raising=False)
    monkeypatch.setenv("QVS_SHORT_DIGEST_KEY", "short")
    with pytest.raises(SecretSourceError, match=problem):
        AuditLog(make_config(tmp_path, **source))


def test_the_database_password_is_set_into_the_url_at_connect_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QVS_TEST_DB_PASSWORD", "p@ss:w/rd")
    (tmp_path / "db-password").write_text("from-a-file\n")
    url = "postgresql+psycopg2://audit@db.internal:5432/audit"
    from_env = make_config(tmp_path, url=url, password_env="QVS_TEST_DB_PASSWORD").connect_url()
    assert from_env.password == "p@ss:w/rd" and from_env.username == "audit" and from_env.host == "db.internal"
    assert "p%40ss%3Aw%2Frd" in from_env.render_as_string(hide_password=False)
    assert "p@ss" not in repr(from_env)  # SQLAlchemy hides it when the URL is printed
    from_file = make_config(tmp_path, url=url, password_file=str(tmp_path / "db-password")).connect_url()
    assert from_file.password == "from-a-file"
    assert make_config(tmp_path, url=url).connect_url().password is None
    doubled = make_config(tmp_path, url=url.replace("audit@", "audit:inline@"), password_env="QVS_TEST_DB_PASSWORD")
    with pytest.raises(SecretSourceError, match="not both"):
        doubled.connect_url()


def test_a_table_from_before_keyed_digests_gains_the_digest_column(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    old = sa.MetaData()
    columns = [
        sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
        for c in store_module.audit_records.columns
        if c.name != "digest"
    ]
    sa.Table("audit_records", old, *columns)
    engine = sa.create_engine(f"sqlite:///{db}")
    old.create_all(engine)
    legacy = make_record(request_id="legacy", created_at=T0).model_dump()
    with engine.begin() as conn:
        conn.execute(sa.insert(old.tables["audit_records"]), [{k: v for k, v in legacy.items() if k != "digest"}])
    engine.dispose()
    with AuditLog(make_config(tmp_path)) as audit_log:
        audit_log.record(make_record(request_id="new"))
        assert audit_log.flush(WAIT_S)
        schemes = {r.request_id: r.digest for r in query_all(audit_log)}
    assert schemes == {"legacy": "sha256", "new": "hmac-sha256"}
    assert AuditRecord.model_validate_json(make_record().model_dump_json(exclude={"digest"})).digest == "sha256"
