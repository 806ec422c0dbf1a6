"""The audit log on each backend: SQLite, and real PostgreSQL and MariaDB servers (Debian's packages)
started by the tests (``tests/unit/sql_servers.py``): the same records, filters, paging and timestamps,
and (on the servers) a password given from a variable."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from pipelines.audit import AuditLog
from tests.unit.audit.test_audit import T0, WAIT_S, make_config, make_record
from tests.unit.sql_servers import mariadb_server, postgres_server

DB_PASSWORD = "pg-p@ss:w/rd%"
# what each server answers a wrong password with
REFUSALS = {"postgresql": "password authentication failed", "mariadb": "Access denied"}


@pytest.fixture(scope="module", params=sorted(REFUSALS))
def protected_url(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(backend, URL) of a server whose TCP connections need ``DB_PASSWORD``; the URL does not hold it."""
    server = postgres_server if request.param == "postgresql" else mariadb_server
    with server(password=DB_PASSWORD) as url:
        yield request.param, url


def test_records_filters_and_paging(audit_url: str, tmp_path: Path) -> None:
    log = AuditLog(make_config(tmp_path, url=audit_url))
    try:
        records = [
            make_record(
                request_id=f"rec-{i}",
                created_at=T0 + timedelta(seconds=i),
                action="block" if i % 2 else "allow",
                categories=["violence"] if i % 2 else [],
                scores={"violence": 0.9} if i % 2 else {},
            )
            for i in range(7)
        ]
        for record in records:
            log.record(record)
        assert log.flush(timeout_s=WAIT_S)
        assert log.health()["ok"]
        first, cursor = log.query(limit=3)
        second, cursor2 = log.query(limit=3, cursor=cursor)
        third, end = log.query(limit=3, cursor=cursor2)
        assert [r.request_id for r in first + second + third] == [f"rec-{i}" for i in reversed(range(7))]
        assert end is None
        blocked = log.query(action="block", category="violence", limit=100)[0]
        assert sorted(r.request_id for r in blocked) == ["rec-1", "rec-3", "rec-5"]
        window = log.query(since=T0 + timedelta(seconds=2), until=T0 + timedelta(seconds=4), limit=100)[0]
        assert [r.request_id for r in window] == ["rec-3", "rec-2"]
        stored = next(r for r in first if r.request_id == "rec-6")
        assert stored.created_at == records[6].created_at  # timezone-aware, microseconds kept
    finally:
        log.close(timeout_s=WAIT_S)


def test_journal_replays_into_the_database_after_a_crash(audit_url: str, tmp_path: Path) -> None:
    """Records journaled by a process that died before inserting them reach the database later."""
    config = make_config(tmp_path, url=audit_url, flush_interval_s=30.0)
    crashed = AuditLog(config)
    crashed.record(make_record(request_id="rec-crash"))
    crashed._stopping.set()  # the writer thread ends without inserting, as if the process died
    crashed._wake.set()
    crashed._thread.join(timeout=WAIT_S)
    crashed._journal.close()
    survivor = AuditLog(make_config(tmp_path, url=audit_url))
    try:
        deadline = time.monotonic() + WAIT_S
        while not survivor.query(request_id="rec-crash")[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [r.request_id for r in survivor.query(request_id="rec-crash")[0]] == ["rec-crash"]
    finally:
        survivor.close(timeout_s=WAIT_S)


def test_unicode_and_long_content_round_trip(audit_url: str, tmp_path: Path) -> None:
    """Four-byte UTF-8 (MySQL's utf8mb4), CJK and a text longer than MySQL's 64 KB TEXT are kept intact."""
    text = "加我微信 😀 " + "x" * 70_000
    record = make_record(content=text, keep_content=True, categories=["spam"], scores={"spam": 1.0})
    with AuditLog(make_config(tmp_path, url=audit_url, keep_content=True)) as log:
        log.record(record)
        assert log.flush(timeout_s=WAIT_S)
        (stored,) = log.query(category="spam")[0]
    assert stored.content == text
    assert stored == record


def test_the_database_password_from_a_variable_reaches_the_server_and_never_its_errors(
    protected_url: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend, url = protected_url
    monkeypatch.setenv("QVS_TEST_DB_PASSWORD", DB_PASSWORD)
    with AuditLog(make_config(tmp_path / "ok", url=url, password_env="QVS_TEST_DB_PASSWORD")) as log:
        log.record(make_record(request_id="auth"))
        assert log.flush(timeout_s=WAIT_S) and log.health()["ok"]
        assert [r.request_id for r in log.query(request_id="auth")[0]] == ["auth"]
    monkeypatch.setenv("QVS_TEST_DB_PASSWORD", DB_PASSWORD + "-wrong")
    wrong = AuditLog(make_config(tmp_path / "wrong", url=url, password_env="QVS_TEST_DB_PASSWORD"))
    try:
        wrong.record(make_record(request_id="refused"))
        assert not wrong.flush(timeout_s=2)  # the server really checks it: nothing is inserted
        error = wrong.health()["last_error"]
        assert error and REFUSALS[backend] in error
        assert "pg-p@ss" not in error and "wrong" not in error
    finally:
        wrong.close(timeout_s=0)
