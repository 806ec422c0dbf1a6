"""Configuration of the moderation audit log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.engine import URL, make_url

from pipelines.core.secrets import MIN_KEY_CHARS, SecretSourceError, read_secret

FailMode = Literal["fail_open", "fail_closed"]


class AuditConfig(BaseModel):
    """Where moderation decisions are recorded and how hard the log tries.

    ``fail_mode`` is advice to callers, not behaviour of the log: ``AuditLog`` only reports
    its state through ``health()`` and raises from ``record()`` when even the local journal
    cannot be written. A caller in ``fail_closed`` mode refuses to serve (e.g. HTTP 503)
    when ``record()`` raises or ``health()["ok"]`` is false; in ``fail_open`` mode it
    serves anyway and alerts. While only the database is down, records are safe in the
    journal, so ``fail_open`` loses nothing unless the journal disk is lost too.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(
        "sqlite:///.cache/audit.db",
        min_length=1,
        description="SQLAlchemy database URL. SQLite, PostgreSQL and MySQL/MariaDB work (install their driver); "
        "the parent directory of a SQLite file is created on first use. Keep the password out of it: "
        "`password_env` / `password_file`.",
    )
    password_env: str | None = Field(
        None,
        description="Environment variable holding the database password, set into the URL at connect time (never "
        "logged). Named but unset or empty: the audit log refuses to start.",
    )
    password_file: str | None = Field(
        None, description="File holding the database password; the same rules as `password_env`."
    )
    digest_key_env: str | None = Field(
        None,
        description="Environment variable holding the secret (at least 16 characters) that keys the text digests "
        "(HMAC-SHA256), so a guessed text cannot be confirmed from its digest. Give every process of a "
        "deployment the same one. Neither this nor `digest_key_file`: a random key per process (digests then "
        "compare only within one process's lifetime).",
    )
    digest_key_file: str | None = Field(
        None, description="File holding the digest secret; the same rules as `digest_key_env`."
    )
    journal_dir: str = Field(
        ".cache/audit-journal",
        min_length=1,
        description="Write-ahead journal directory (local disk). Several processes may share it: each owns its "
        "segments, and segments of a dead process are replayed by the next process that starts.",
    )
    flush_interval_s: float = Field(
        0.2, gt=0, description="Longest time a record waits in the journal before the writer inserts it."
    )
    batch_size: int = Field(
        256, ge=1, description="Records per journal segment; a full segment is inserted at once, in one transaction."
    )
    fsync: bool = Field(
        True, description="fsync each journal append, so a record survives a power loss, not only a process crash."
    )
    fail_mode: FailMode = Field(
        "fail_open",
        description="What callers should do while the audit store is unhealthy: 'fail_open' serves anyway, "
        "'fail_closed' refuses requests. Advisory: the log itself only reports health.",
    )
    keep_content: bool = Field(
        False,
        description="Store the moderated text itself. When false, content is dropped before the journal is written "
        "and only its keyed digest is kept.",
    )
    retry_initial_s: float = Field(0.5, gt=0, description="First delay before retrying a failed database write.")
    retry_max_s: float = Field(30.0, gt=0, description="Longest delay between retries; delays double up to it.")
    max_query_limit: int = Field(1000, ge=1, description="Largest page size `query` returns, whatever is asked.")
    max_stats_buckets: int = Field(
        1000,
        ge=1,
        description="Most time buckets one `stats` answer may have; wider ranges or finer buckets are refused.",
    )
    stats_window_s: float = Field(
        86400.0, gt=0, description="Range `stats` covers when `since` is not given: this many seconds before `until`."
    )
    close_timeout_s: float = Field(
        5.0, ge=0, description="How long `close()` (and the atexit hook) keeps trying to insert pending records."
    )

    def digest_key(self) -> bytes | None:
        """The configured digest secret, or None when no source is named (a named empty one raises)."""
        secret = read_secret(self.digest_key_env, self.digest_key_file, "digest_key", min_chars=MIN_KEY_CHARS)
        return secret.encode() if secret is not None else None

    def connect_url(self) -> URL:
        """``url`` with the password from ``password_env`` / ``password_file`` set into it (a URL that
        carries its own password too is refused: which one is meant would be a guess)."""
        url = make_url(self.url)
        password = read_secret(self.password_env, self.password_file, "password")
        if password is None:
            return url
        if url.password:
            raise SecretSourceError("give the database password in url or in password_env/_file, not both")
        return url.set(password=password)

    def resolved(self, resolve: Callable[[str], str]) -> AuditConfig:
        """A copy whose relative SQLite file and journal directory are resolved by ``resolve``."""
        url = make_url(self.url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            url = url.set(database=resolve(url.database))
        rendered = url.render_as_string(hide_password=False)
        return self.model_copy(update={"url": rendered, "journal_dir": resolve(self.journal_dir)})

    @model_validator(mode="after")
    def _check_retry(self) -> AuditConfig:
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("retry_max_s must be >= retry_initial_s")
        return self
