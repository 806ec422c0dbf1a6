"""``AuditLog``: journal first, database later, from one background writer thread.

``record()`` only appends a JSON line to the local journal (plus fsync if configured) and
returns; the writer thread inserts sealed journal segments into the database, one
transaction per segment, and deletes each segment once committed. A segment is sealed when
it holds ``batch_size`` records or every ``flush_interval_s``. Because the journal is
written before anything else and inserts ignore ids already stored, a crash at any point
loses nothing and duplicates nothing: the next ``AuditLog`` on the same journal directory
replays what was left.
"""

from __future__ import annotations

import atexit
import logging
import secrets
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Unpack

from pydantic import ValidationError
from sqlalchemy import Engine

from pipelines.audit.config import AuditConfig
from pipelines.audit.journal import Journal, Segment, read_lines
from pipelines.audit.record import AuditRecord
from pipelines.audit.stats import AuditStats, StatsWindow
from pipelines.audit.store import AuditStore, DecisionFilters, describe_error

logger = logging.getLogger(__name__)

PROCESS_DIGEST_KEY_BYTES = 32  # 256 random bits, as many as the digest has


def _process_digest_key() -> bytes:
    logger.info(
        "audit: no digest_key_env / digest_key_file configured; text digests use a random key of this process "
        "and compare only within its lifetime"
    )
    return secrets.token_bytes(PROCESS_DIGEST_KEY_BYTES)


def _parse_lines(lines: list[str], segment: Segment) -> list[AuditRecord]:
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            records.append(AuditRecord.model_validate_json(line))
        except ValidationError:
            # Only a line torn by a crash or a full disk can be invalid; it was never acknowledged.
            logger.warning("audit journal: skipping unreadable line %d of %s", number, segment.path.name)
    return records


class AuditLog:
    """Durable audit log of moderation decisions. Thread-safe; use one per process.

    Pass ``engine`` to use an existing SQLAlchemy engine instead of ``config.url``.
    """

    def __init__(self, config: AuditConfig | None = None, *, engine: Engine | None = None) -> None:
        self.config = config or AuditConfig()
        self.digest_key = self.config.digest_key() or _process_digest_key()
        url = self.config.connect_url()
        self._store = AuditStore(url, max_query_limit=self.config.max_query_limit, engine=engine)
        self._journal = Journal(Path(self.config.journal_dir), fsync=self.config.fsync)
        self._wake = threading.Event()  # work is waiting: a segment filled up, flush() or close()
        self._interrupt = threading.Event()  # cut a retry backoff short: flush() or close()
        self._stopping = threading.Event()
        self._progress = threading.Condition()  # notified whenever a segment is committed
        self._state_lock = threading.Lock()
        self._closed = False
        self._deadline = float("inf")
        self._db_error: str | None = None
        self._journal_error: str | None = None
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    # -- caller side -----------------------------------------------------------------------

    def record(self, rec: AuditRecord) -> None:
        """Journal ``rec`` and return; the database insert happens on the writer thread.

        Raises ``OSError`` if the journal cannot be written and ``RuntimeError`` after
        ``close()``; what to do then is the caller's ``fail_mode``. Content is dropped here,
        before it reaches the disk, unless ``config.keep_content``.
        """
        if not self.config.keep_content:
            rec = rec.without_content()
        line = rec.model_dump_json()
        try:
            sealed = self._journal.append(line, seal_at=self.config.batch_size)
        except OSError as exc:
            self._journal_error = describe_error(exc, self._store.url)
            raise
        self._journal_error = None
        if sealed:
            self._wake.set()

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until everything recorded so far is committed; False if ``timeout_s`` (None: no limit) ran out."""
        if self._closed:
            return self._journal.pending == 0
        self._wake.set()
        self._interrupt.set()
        with self._progress:
            return self._progress.wait_for(lambda: self._journal.pending == 0, timeout_s)

    def health(self) -> dict[str, Any]:
        """``{"ok", "pending", "last_error"}``; ``pending`` counts records not yet in the database."""
        error = self._journal_error or self._db_error
        if error is None and not self._closed and not self._thread.is_alive():
            error = "audit writer thread is not running"
        return {"ok": error is None, "pending": self._journal.pending, "last_error": error}

    def query(self, **filters: Unpack[DecisionFilters]) -> tuple[list[AuditRecord], str | None]:
        """Committed records, newest first (``created_at``, then ``id``): ``AuditStore.query``'s filters.

        ``since`` is inclusive, ``until`` exclusive, both timezone-aware. ``limit`` is capped at
        ``config.max_query_limit``. Pass the returned cursor back for the next page; None means
        last page. Runs on the caller's thread (it is a database round trip).
        """
        return self._store.query(**filters)

    def stats(self, window: StatsWindow) -> AuditStats:
        """Committed decisions counted per bucket of ``window`` by the database; on the caller's thread."""
        return self._store.stats(window)

    def close(self, timeout_s: float | None = None) -> bool:
        """Insert what is pending (trying for up to ``timeout_s``, default ``config.close_timeout_s``)
        and stop. Returns whether nothing was left behind; leftovers stay in the journal for
        the next start. Idempotent."""
        with self._state_lock:
            if self._closed:
                return self._journal.pending == 0
            self._closed = True
        atexit.unregister(self.close)
        timeout = self.config.close_timeout_s if timeout_s is None else timeout_s
        self._deadline = time.monotonic() + timeout
        self._stopping.set()
        self._wake.set()
        self._interrupt.set()
        self._thread.join(timeout)
        self._journal.close()
        self._store.dispose()
        return self._journal.pending == 0

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        backoff = self.config.retry_initial_s
        while True:
            self._journal.seal()
            drained = self._drain()
            if self._stopping.is_set() and (
                (drained and self._journal.pending == 0) or time.monotonic() >= self._deadline
            ):
                return
            if drained:
                backoff = self.config.retry_initial_s
                self._wait(self._wake, self.config.flush_interval_s)
            else:
                self._wait(self._interrupt, self._bounded(backoff))
                backoff = min(backoff * 2, self.config.retry_max_s)

    def _bounded(self, delay: float) -> float:
        """While closing, never sleep past the close deadline."""
        if self._stopping.is_set():
            return max(0.0, min(delay, self._deadline - time.monotonic()))
        return delay

    @staticmethod
    def _wait(event: threading.Event, timeout: float) -> None:
        if event.wait(timeout):
            event.clear()

    def _drain(self) -> bool:
        """Commit sealed segments oldest first; False (journal untouched) at the first failure."""
        while (segment := self._journal.oldest_sealed()) is not None:
            try:
                self._store.write(_parse_lines(read_lines(segment.path), segment))
            except Exception as exc:  # noqa: BLE001 - any store failure (driver, network, disk) means retry later
                self._set_db_error(describe_error(exc, self._store.url))
                return False
            self._journal.discard(segment)
            self._set_db_error(None)
            with self._progress:
                self._progress.notify_all()
        return True

    def _set_db_error(self, error: str | None) -> None:
        if error is not None and error != self._db_error:
            logger.warning("audit store write failed, records stay in the journal: %s", error)
        elif error is None and self._db_error is not None:
            logger.info("audit store recovered")
        self._db_error = error
