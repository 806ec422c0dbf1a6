"""Fixtures for the validation / image / data-URL tests (in-memory image builders, no files) and the audit
tests' database servers (``tests/unit/sql_servers.py``)."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Callable, Iterator
from io import BytesIO
from typing import Any

import pytest
from PIL import Image

from pipelines.inputs.validation import ValidationLimits
from tests.unit.sql_servers import fresh_database, mariadb_server, postgres_server

# The audit store's backends: each test taking `audit_url` runs once on each (servers start lazily).
AUDIT_BACKENDS = ("sqlite", "postgresql", "mariadb")

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


@pytest.fixture(scope="session")
def no_resize_limits() -> ValidationLimits:
    """Production limits without the model's resize, so output sizes equal input sizes."""
    return ValidationLimits(resize_max_pixels=None, resize_min_pixels=None)


@pytest.fixture(scope="session")
def image_bytes() -> Callable[..., bytes]:
    """``image_bytes(img, "PNG", **save_kwargs)`` -> the encoded file."""

    def encode(img: Image.Image, fmt: str, **save_kwargs: Any) -> bytes:
        buf = BytesIO()
        img.save(buf, fmt, **save_kwargs)
        return buf.getvalue()

    return encode


@pytest.fixture(scope="session")
def data_url() -> Callable[[bytes, str], str]:
    def build(data: bytes, media_type: str = "image/png") -> str:
        return f"data:{media_type};base64,{base64.b64encode(data).decode()}"

    return build


@pytest.fixture(scope="session")
def header_only_png() -> Callable[[int, int], bytes]:
    """A PNG that declares ``width`` x ``height`` RGB but carries almost no pixel data (a bomb)."""

    def build(width: int, height: int) -> bytes:
        ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
        idat = zlib.compress(b"\x00" * 64)
        return _PNG_MAGIC + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")

    return build


@pytest.fixture(scope="session")
def postgresql_server_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def mariadb_server_url() -> Iterator[str]:
    with mariadb_server() as url:
        yield url


@pytest.fixture(params=AUDIT_BACKENDS)
def audit_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty audit database of each backend: a SQLite file, or a fresh database on the session's server
    (skipped with the reason when the server's package or driver is missing)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('audit-sqlite') / 'audit.db'}"
    return fresh_database(request.getfixturevalue(f"{request.param}_server_url"))
