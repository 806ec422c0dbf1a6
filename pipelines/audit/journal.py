"""Write-ahead journal: append-only JSON-lines segments, each owned by one live process.

Segment files are ``journal-<owner>-<seq>.jsonl``; the owner (a random id per ``Journal``)
holds an exclusive ``flock`` on ``owner-<owner>.lock`` for its whole life. Several processes
(Serve replicas) can therefore share one directory: at startup a journal adopts only the
segments whose owner lock is free, i.e. whose process is gone (the kernel drops the lock of
a crashed process). Adopted segments are renamed into the adopter's namespace, which is
atomic, so a second adopter either sees them under the old name (and fails to lock or to
rename) or not at all. POSIX only (``fcntl``), like the service.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from pipelines.core.files import fsync_dir

logger = logging.getLogger(__name__)

_SEGMENT = re.compile(r"^journal-(?P<owner>[0-9a-f]{32})-(?P<seq>\d+)\.jsonl$")
_OWNER_LOCK = re.compile(r"^owner-(?P<owner>[0-9a-f]{32})\.lock$")
_SEQ_DIGITS = 12  # zero-padded so that name order is sequence order


def _segment_name(owner: str, seq: int) -> str:
    return f"journal-{owner}-{seq:0{_SEQ_DIGITS}d}.jsonl"


def _lock_name(owner: str) -> str:
    return f"owner-{owner}.lock"


def _try_lock(path: Path) -> int | None:
    """An fd holding an exclusive flock on ``path``, or None if a live process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return f.read().count(b"\n")


def read_lines(path: Path) -> list[str]:
    """The non-empty lines of a segment; a missing segment is empty (already handled)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return [line for line in text.splitlines() if line.strip()]


@dataclass(eq=False)
class Segment:
    path: Path
    count: int


class Journal:
    """Thread-safe. Appends go to the current segment; sealed segments wait for the writer,
    oldest first, and are deleted by ``discard`` once their records are committed."""

    def __init__(self, directory: Path, *, fsync: bool) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._dir = directory
        self._fsync = fsync
        self._owner = uuid.uuid4().hex
        self._lock = threading.Lock()
        self._seq = 0
        self._sealed: deque[Segment] = deque()
        self._current: Segment | None = None
        self._file: TextIO | None = None
        self._closed = False
        lock_fd = _try_lock(directory / _lock_name(self._owner))
        if lock_fd is None:
            raise RuntimeError(f"cannot lock a fresh journal owner file in {directory}")
        self._lock_fd = lock_fd
        self._adopt_orphans()

    @property
    def pending(self) -> int:
        """Records appended and not yet discarded."""
        with self._lock:
            current = self._current.count if self._current else 0
            return current + sum(s.count for s in self._sealed)

    def append(self, line: str, *, seal_at: int) -> bool:
        """Append one line durably; seal the segment when it holds ``seal_at`` lines. Returns whether it sealed."""
        with self._lock:
            if self._closed:
                raise RuntimeError("audit journal is closed")
            segment, file = self._current_segment()
            try:
                file.write(line + "\n")
                file.flush()
                if self._fsync:
                    os.fsync(file.fileno())
            except OSError:
                # A torn line must stay the last one of its segment; the reader skips it.
                self._seal_locked()
                raise
            segment.count += 1
            if segment.count >= seal_at:
                self._seal_locked()
                return True
            return False

    def seal(self) -> None:
        with self._lock:
            self._seal_locked()

    def oldest_sealed(self) -> Segment | None:
        with self._lock:
            return self._sealed[0] if self._sealed else None

    def discard(self, segment: Segment) -> None:
        """Delete a segment whose records are all committed (a leftover file is only replayed again)."""
        try:
            segment.path.unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("audit journal: cannot delete committed segment %s: %s", segment.path.name, exc)
        with self._lock, contextlib.suppress(ValueError):
            self._sealed.remove(segment)

    def close(self) -> None:
        """Seal and release ownership; segments left behind are adopted by the next journal to start."""
        with self._lock:
            if self._closed:
                return
            self._seal_locked()
            self._closed = True
            (self._dir / _lock_name(self._owner)).unlink(missing_ok=True)
            os.close(self._lock_fd)

    def _current_segment(self) -> tuple[Segment, TextIO]:
        if self._current is None or self._file is None:
            path = self._dir / _segment_name(self._owner, self._next_seq())
            self._file = path.open("a", encoding="utf-8")
            self._current = Segment(path, 0)
            if self._fsync:
                fsync_dir(self._dir)
        return self._current, self._file

    def _seal_locked(self) -> None:
        if self._current is None:
            return
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        self._sealed.append(self._current)
        self._current, self._file = None, None

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _adopt_orphans(self) -> None:
        """Take over segments (and clear lock files) of owners that are no longer running."""
        owners = set()
        for path in self._dir.iterdir():
            match = _SEGMENT.match(path.name) or _OWNER_LOCK.match(path.name)
            if match and match["owner"] != self._owner:
                owners.add(match["owner"])
        for owner in sorted(owners):
            self._adopt(owner)

    def _adopt(self, owner: str) -> None:
        lock_path = self._dir / _lock_name(owner)
        fd = _try_lock(lock_path)
        if fd is None:
            return  # its process is alive and will insert them itself
        try:
            for path in sorted(self._dir.glob(f"journal-{owner}-*.jsonl")):
                target = self._dir / _segment_name(self._owner, self._next_seq())
                try:
                    os.rename(path, target)
                except FileNotFoundError:
                    continue  # another journal adopted it first
                self._sealed.append(Segment(target, _count_lines(target)))
                logger.info("audit journal: replaying %s left by a stopped process", path.name)
            if self._fsync:
                fsync_dir(self._dir)
            lock_path.unlink(missing_ok=True)
        finally:
            os.close(fd)
