"""Real database servers for the audit tests, started from Debian's packages into a temporary directory.

PostgreSQL (package ``postgresql``) and MariaDB (package ``mariadb-server``), each on a free loopback
port, are started once per test session (``tests/unit/conftest.py``); every test gets a database of
its own on them (``fresh_database``), so tests never see each other's records.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

PG_BIN = Path("/usr/lib/postgresql/15/bin")
MARIADB_SBIN = Path("/usr/sbin")
SERVER_START_S = 60.0
_POLL_S = 0.1
_USER = "audit"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary(name: str, fallback_dir: Path) -> str | None:
    found = shutil.which(name) or str(fallback_dir / name)
    return found if Path(found).exists() else None


def _private_dir(prefix: str, owner: str) -> Path:
    """Not under pytest's tmp dir: that is private to root, and the servers drop to their own user."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(work, owner)
    return work


def _as_user(user: str, argv: list[str]) -> list[str]:
    """PostgreSQL and MariaDB refuse to run as root: drop to their own user when we are root."""
    return ["runuser", "-u", user, "--", *argv] if os.geteuid() == 0 else argv


@contextlib.contextmanager
def postgres_server(password: str | None = None) -> Iterator[str]:
    """The URL of a running PostgreSQL server's ``postgres`` database, user ``audit`` (never with a password in
    it). With ``password``, TCP connections must authenticate with it (SCRAM); else they are trusted."""
    initdb, pg_ctl = _binary("initdb", PG_BIN), _binary("pg_ctl", PG_BIN)
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL server binaries are not installed (Debian package postgresql)")
    pytest.importorskip("psycopg2", reason="the PostgreSQL driver is in the dev and postgres extras")
    work = _private_dir("qvs-postgres-", "postgres")
    data, port = work / "data", _free_port()
    auth = ["--auth=trust"]
    if password is not None:
        (work / "pwfile").write_text(password + "\n")
        if os.geteuid() == 0:
            shutil.chown(work / "pwfile", "postgres")
        auth = ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={work / 'pwfile'}"]
    subprocess.run(_as_user("postgres", [initdb, "-D", str(data), *auth, "-U", _USER]), check=True, capture_output=True)
    options = f"-p {port} -h 127.0.0.1 -k {work}"
    subprocess.run(
        _as_user("postgres", [pg_ctl, "-D", str(data), "-o", options, "-l", str(work / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg2://{_USER}@127.0.0.1:{port}/postgres"
    finally:
        stop = [pg_ctl, "-D", str(data), "-m", "fast", "stop"]
        subprocess.run(_as_user("postgres", stop), check=False, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def mariadb_server(password: str | None = None) -> Iterator[str]:
    """The URL of a running MariaDB server, loopback TCP only: ``root`` without a password and no database; with
    ``password``, user ``audit`` who must give it, and its database ``audit`` (the URL never holds the password)."""
    install_db, mariadbd = _binary("mariadb-install-db", MARIADB_SBIN), _binary("mariadbd", MARIADB_SBIN)
    if install_db is None or mariadbd is None:
        pytest.skip("MariaDB server binaries are not installed (Debian package mariadb-server)")
    pytest.importorskip("pymysql", reason="the MySQL/MariaDB driver PyMySQL is in the dev and mysql extras")
    work = _private_dir("qvs-mariadb-", "mysql")
    data, sock, port = work / "data", work / "mariadb.sock", _free_port()
    install = [
        install_db,
        "--no-defaults",
        f"--datadir={data}",
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
    ]
    subprocess.run(_as_user("mysql", install), check=True, capture_output=True)
    log = (work / "server.log").open("wb")
    server = subprocess.Popen(
        _as_user(
            "mysql",
            [
                mariadbd,
                "--no-defaults",
                f"--datadir={data}",
                f"--socket={sock}",
                f"--pid-file={work / 'mariadb.pid'}",
                "--bind-address=127.0.0.1",
                f"--port={port}",
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=32M",
                "--character-set-server=utf8mb4",  # the upstream default is latin1; production servers use utf8mb4
                "--collation-server=utf8mb4_unicode_ci",
            ],
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"mysql+pymysql://root@127.0.0.1:{port}/"
    try:
        _wait_for(url, server, work / "server.log")
        yield url if password is None else _protected_mariadb(url, password)
    finally:
        server.terminate()
        try:
            server.wait(timeout=SERVER_START_S)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def _wait_for(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    engine = sa.create_engine(url)
    deadline = time.monotonic() + SERVER_START_S
    try:
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"mariadbd exited with {server.returncode}:\n{log.read_text(errors='replace')}")
            try:
                with engine.connect():
                    return
            except sa.exc.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(_POLL_S)
    finally:
        engine.dispose()


def _protected_mariadb(root_url: str, password: str) -> str:
    engine = sa.create_engine(root_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {_USER}"))
            conn.execute(sa.text(f"CREATE USER '{_USER}'@'127.0.0.1' IDENTIFIED BY :password"), {"password": password})
            conn.execute(sa.text(f"GRANT ALL ON {_USER}.* TO '{_USER}'@'127.0.0.1'"))
    finally:
        engine.dispose()
    return make_url(root_url).set(username=_USER, database=_USER).render_as_string(hide_password=False)


def fresh_database(server_url: str) -> str:
    """A new, empty database on the server; its URL."""
    name = f"audit_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    finally:
        engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)
