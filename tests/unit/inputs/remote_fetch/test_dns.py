"""DNS: names resolving to private addresses, pinning to the vetted address (SNI kept), failures and
the deadline.

See ``loopback.py``: everything runs against a loopback server; no test touches the network."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from pipelines.inputs.remote import (
    RemoteFetchConfig,
    fetch_image,
)
from tests.unit.inputs.remote_fetch.loopback import (
    PARAM,
    PNG,
    PUBLIC_NAME,
    SHORT_TIMEOUT_S,
    SLOW_S,
    TIMEOUT_BOUND_S,
    ServerState,
    config,
    expect_error,
    fake_resolver,
)

# --- DNS: private resolution, pinning, timeout ---------------------------------------------------------


@pytest.mark.parametrize("answers", [["10.0.0.5"], ["93.184.216.34", "10.0.0.5"], ["2606:2800::1", "fd00::1"]])
def test_allow_listed_name_resolving_to_private_address_refused(
    monkeypatch: pytest.MonkeyPatch, answers: list[str]
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_resolver({PUBLIC_NAME: answers}))
    err = expect_error(
        f"https://{PUBLIC_NAME}/cat.png", RemoteFetchConfig(allowed_hosts=[PUBLIC_NAME]), "remote_address_not_allowed"
    )
    assert "10.0.0.5" not in err.message and "fd00" not in err.message


def test_connects_to_the_vetted_address_only(monkeypatch: pytest.MonkeyPatch, server: ServerState) -> None:
    """The name is resolved once; a rebinding answer afterwards is never used, and Host keeps the name."""
    lookups: list[str] = []
    first = fake_resolver({PUBLIC_NAME: ["127.0.0.1"]})
    rebound = fake_resolver({PUBLIC_NAME: ["10.255.255.1"]})

    def resolve(host: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host == PUBLIC_NAME:
            lookups.append(host)
        return (first if len(lookups) <= 1 else rebound)(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    cfg = config(allowed_hosts=[PUBLIC_NAME], max_redirects=1)
    assert fetch_image(server.url("/redirect-same", host=PUBLIC_NAME), cfg, param=PARAM)[1] == PNG
    assert lookups == [PUBLIC_NAME]
    assert [headers["host"] for _, headers in server.requests] == [f"{PUBLIC_NAME}:{server.port}"] * 2


def test_tls_uses_the_host_name_for_sni_while_connecting_to_the_vetted_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    captured: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def capture() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(2.0)
            captured.append(conn.recv(4096))

    thread = threading.Thread(target=capture, daemon=True)
    thread.start()
    monkeypatch.setattr(socket, "getaddrinfo", fake_resolver({PUBLIC_NAME: ["127.0.0.1"]}))
    try:
        port = listener.getsockname()[1]
        cfg = config(allowed_hosts=[PUBLIC_NAME], allowed_schemes=["https"])
        expect_error(f"https://{PUBLIC_NAME}:{port}/cat.png", cfg, "remote_fetch_failed")
        thread.join(2.0)
    finally:
        listener.close()
    assert captured and PUBLIC_NAME.encode() in captured[0]  # the ClientHello's server_name


def test_dns_unresolvable(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    expect_error(
        f"https://{PUBLIC_NAME}/x.png", RemoteFetchConfig(allowed_hosts=[PUBLIC_NAME]), "remote_host_unresolvable"
    )


def test_dns_lookup_counts_against_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def hang(*args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        release.wait(SLOW_S)
        return []

    monkeypatch.setattr(socket, "getaddrinfo", hang)
    cfg = RemoteFetchConfig(allowed_hosts=[PUBLIC_NAME], timeout_s=SHORT_TIMEOUT_S)
    start = time.monotonic()
    try:
        expect_error(f"https://{PUBLIC_NAME}/x.png", cfg, "remote_fetch_timeout")
    finally:
        release.set()
    assert time.monotonic() - start < TIMEOUT_BOUND_S
