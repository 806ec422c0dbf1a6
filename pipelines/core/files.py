"""Files on disk: durable writes (a file appears whole under its final name or not at all, and survives a
crash) and the SHA-256 that checks a file read back."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path

HIDDEN_PREFIX = "."  # pyarrow, pandas and Ray Data skip files whose names start with it
TMP_SUFFIX = ".tmp"


def fsync_dir(directory: Path) -> None:
    """Make a created or renamed file's directory entry durable too."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """``write(tmp)`` into a hidden temporary file beside ``path``, fsync it, rename it over ``path``
    and fsync the directory; the temporary file never outlives a failure."""
    tmp = path.with_name(f"{HIDDEN_PREFIX}{path.name}.{uuid.uuid4().hex}{TMP_SUFFIX}")
    try:
        write(tmp)
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return path


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file's bytes, read in 1 MiB blocks (model files are large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
