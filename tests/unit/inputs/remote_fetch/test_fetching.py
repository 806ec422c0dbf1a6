"""Fetches: success, size caps, encodings and status, timeouts, redirects.

See ``loopback.py``: everything runs against a loopback server; no test touches the network."""

from __future__ import annotations

import socket
import time

import pytest

from pipelines.core.errors import PayloadTooLargeError
from pipelines.inputs.remote import (
    fetch_image,
)
from tests.unit.inputs.remote_fetch.loopback import (
    BIG_TOTAL,
    PARAM,
    PNG,
    SHORT_TIMEOUT_S,
    TIMEOUT_BOUND_S,
    UA,
    ServerState,
    config,
    expect_error,
)

# --- successful fetches ------------------------------------------------------------------------------


def test_fetches_png_from_allow_listed_host(server: ServerState) -> None:
    assert fetch_image(server.url("/png"), config(), param=PARAM) == ("image/png", PNG)
    [(path, headers)] = server.requests
    assert path == "/png"
    assert headers["user-agent"] == UA
    assert headers["accept-encoding"] == "identity"
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert "cookie" not in headers and "authorization" not in headers


def test_fetches_through_an_allow_listed_name(server: ServerState) -> None:
    cfg = config(allowed_hosts=["LOCALHOST."])
    assert fetch_image(server.url("/png", host="LocalHost."), cfg, param=PARAM) == ("image/png", PNG)


def test_proxy_environment_is_ignored(monkeypatch: pytest.MonkeyPatch, server: ServerState) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://10.255.255.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert fetch_image(server.url("/png"), config(), param=PARAM)[1] == PNG


# --- size, encoding, status --------------------------------------------------------------------------


def test_body_over_cap_is_413_and_the_connection_is_closed_early(server: ServerState) -> None:
    err = expect_error(server.url("/big"), config(), "image_too_large", PayloadTooLargeError)
    assert err.status == 413
    assert server.big_aborted.wait(5.0)
    assert server.big_sent[0] < BIG_TOTAL


def test_declared_content_length_over_cap_refused(server: ServerState) -> None:
    expect_error(server.url("/big-declared"), config(), "image_too_large", PayloadTooLargeError)


def test_body_at_the_cap_is_accepted(server: ServerState) -> None:
    assert fetch_image(server.url("/png"), config(max_bytes=len(PNG)), param=PARAM)[1] == PNG
    expect_error(server.url("/png"), config(max_bytes=len(PNG) - 1), "image_too_large", PayloadTooLargeError)


def test_compressed_response_refused(server: ServerState) -> None:
    expect_error(server.url("/gzip"), config(), "remote_fetch_failed")


def test_empty_body_refused(server: ServerState) -> None:
    expect_error(server.url("/empty"), config(), "empty_image")


def test_non_2xx_reports_status_but_not_body(server: ServerState) -> None:
    err = expect_error(server.url("/missing"), config(), "remote_fetch_failed")
    assert "404" in err.message
    assert "secret" not in err.message


def test_connection_refused_is_remote_fetch_failed() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    expect_error(f"http://127.0.0.1:{port}/png", config(), "remote_fetch_failed")


# --- timeouts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/slow", "/drip"])
def test_total_timeout_honoured(server: ServerState, path: str) -> None:
    """``/slow`` never answers; ``/drip`` sends a byte every 50 ms, so only a total deadline stops it."""
    start = time.monotonic()
    err = expect_error(server.url(path), config(timeout_s=SHORT_TIMEOUT_S, max_bytes=BIG_TOTAL), "remote_fetch_timeout")
    assert err.status == 400
    assert SHORT_TIMEOUT_S * 0.9 < time.monotonic() - start < TIMEOUT_BOUND_S


# --- redirects -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/redirect-same", "/redirect-absolute"])
def test_same_host_redirect_followed(server: ServerState, path: str) -> None:
    assert fetch_image(server.url(path), config(), param=PARAM) == ("image/png", PNG)
    assert server.paths() == [path, "/png"]


@pytest.mark.parametrize("path", ["/redirect-other", "/redirect-scheme", "/redirect-userinfo"])
def test_redirect_to_other_host_or_scheme_refused(server: ServerState, path: str) -> None:
    cfg = config(allowed_hosts=["127.0.0.1", "localhost"])
    expect_error(server.url(path), cfg, "remote_redirect_not_allowed")
    assert server.paths() == [path]


def test_redirect_count_limit(server: ServerState) -> None:
    expect_error(server.url("/redirect-loop"), config(max_redirects=2), "too_many_redirects")
    assert server.paths() == ["/redirect-loop"] * 3
    server.requests.clear()
    expect_error(server.url("/redirect-same"), config(max_redirects=0), "too_many_redirects")
    assert server.paths() == ["/redirect-same"]


def test_cookies_are_not_replayed_across_redirects(server: ServerState) -> None:
    assert fetch_image(server.url("/redirect-cookie"), config(), param=PARAM)[1] == PNG
    assert server.paths() == ["/redirect-cookie", "/echo"]
    assert "cookie" not in server.requests[1][1]
