"""The audit log on a real PostgreSQL server (Debian's postgresql package), started by the test:
the same records, filters, paging and timestamps as on SQLite."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from pipelines.audit import AuditLog
from tests.unit.test_audit import T0, WAIT_S, make_config, make_record

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the `postgres` user when we are root."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _postgres_server(password: str | None) -> Iterator[str]:
    """A private PostgreSQL server on a free loopback port; yields its URL (never with a password in it).
    With ``password``, TCP connections must authenticate with it (SCRAM); else they are trusted."""
    initdb = shutil.which("initdb") or str(PG_BIN / "initdb")
    pg_ctl = shutil.which("pg_ctl") or str(PG_BIN / "pg_ctl")
    if not Path(initdb).exists():
        pytest.skip("PostgreSQL server binaries are not installed (Debian package postgresql)")
    pytest.importorskip("psycopg2", reason="the PostgreSQL driver is in the dev and postgres extras")
    # not under pytest's tmp dir: that is private to root, and the server runs as `postgres`
    work = Path(tempfile.mkdtemp(prefix="qvs-postgres-"))
    data = work / "data"
    auth = ["--auth=trust"]
    if password is not None:
        (work / "pwfile").write_text(password + "\n")
        auth = ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={work / 'pwfile'}"]
    if os.geteuid() == 0:
        shutil.chown(work, "postgres")
        if password is not None:
            shutil.chown(work / "pwfile", "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run(_as_postgres([initdb, "-D", str(data), *auth, "-U", "audit"]), check=True, capture_output=True)
    options = f"-p {port} -h 127.0.0.1 -k {work}"
    subprocess.run(
        _as_postgres([pg_ctl, "-D", str(data), "-o", options, "-l", str(work / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    yield f"postgresql+psycopg2://audit@127.0.0.1:{port}/postgres"
    subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "stop"]), check=False, capture_output=True)
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    yield from _postgres_server(password=None)


DB_PASSWORD = "pg-p@ss:w/rd%"


@pytest.fixture(scope="module")
def protected_postgres_url() -> Iterator[str]:
    """A server whose TCP connections need ``DB_PASSWORD``."""
    yield from _postgres_server(password=DB_PASSWORD)


def test_records_filters_and_paging_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    log = AuditLog(make_config(tmp_path, url=postgres_url))
    try:
        records = [
            make_record(
                request_id=f"pg-{i}",
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
        assert [r.request_id for r in first + second + third] == [f"pg-{i}" for i in reversed(range(7))]
        assert end is None
        blocked = log.query(action="block", category="violence", limit=100)[0]
        assert sorted(r.request_id for r in blocked) == ["pg-1", "pg-3", "pg-5"]
        window = log.query(since=T0 + timedelta(seconds=2), until=T0 + timedelta(seconds=4), limit=100)[0]
        assert [r.request_id for r in window] == ["pg-3", "pg-2"]
        stored = next(r for r in first if r.request_id == "pg-6")
        assert stored.created_at == records[6].created_at  # timezone-aware, microseconds kept
    finally:
        log.close(timeout_s=WAIT_S)


def test_journal_replays_into_postgresql_after_a_crash(postgres_url: str, tmp_path: Path) -> None:
    """Records journaled by a process that died before inserting them reach the database later."""
    config = make_config(tmp_path, url=postgres_url, flush_interval_s=30.0)
    crashed = AuditLog(config)
    crashed.record(make_record(request_id="pg-crash"))
    crashed._stopping.set()  # the writer thread ends without inserting, as if the process died
    crashed._wake.set()
    crashed._thread.join(timeout=WAIT_S)
    crashed._journal.close()
    survivor = AuditLog(make_config(tmp_path, url=postgres_url))
    try:
        deadline = time.monotonic() + WAIT_S
        while not survivor.query(request_id="pg-crash")[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [r.request_id for r in survivor.query(request_id="pg-crash")[0]] == ["pg-crash"]
    finally:
        survivor.close(timeout_s=WAIT_S)


def test_the_database_password_from_a_variable_reaches_postgresql_and_never_its_errors(
    protected_postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QVS_TEST_DB_PASSWORD", DB_PASSWORD)
    with AuditLog(make_config(tmp_path / "ok", url=protected_postgres_url, password_env="QVS_TEST_DB_PASSWORD")) as log:
        log.record(make_record(request_id="pg-auth"))
        assert log.flush(timeout_s=WAIT_S) and log.health()["ok"]
        assert [r.request_id for r in log.query(request_id="pg-auth")[0]] == ["pg-auth"]
    monkeypatch.setenv("QVS_TEST_DB_PASSWORD", DB_PASSWORD + "-wrong")
    wrong = AuditLog(make_config(tmp_path / "wrong", url=protected_postgres_url, password_env="QVS_TEST_DB_PASSWORD"))
    try:
        wrong.record(make_record(request_id="pg-refused"))
        assert not wrong.flush(timeout_s=2)  # the server really checks it: nothing is inserted
        error = wrong.health()["last_error"]
        assert error and "password authentication failed" in error
        assert "pg-p@ss" not in error and "wrong" not in error
    finally:
        wrong.close(timeout_s=0)
