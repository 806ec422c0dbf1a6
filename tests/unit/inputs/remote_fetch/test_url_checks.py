"""Remote fetching is off by default; URL checks: userinfo, schemes, malformed URLs, the allow-list,
IP literals, loopback.

See ``loopback.py``: everything runs against a loopback server; no test touches the network."""

from __future__ import annotations

import pytest

from pipelines.inputs.remote import (
    RemoteFetchConfig,
)
from tests.unit.inputs.remote_fetch.loopback import ServerState, config, expect_error

# --- off by default, URL checks --------------------------------------------------------------------


def test_default_config_refuses_every_remote_url(server: ServerState) -> None:
    for url in (server.url("/png"), "https://example.com/cat.png", "HTTPS://example.com/cat.png"):
        expect_error(url, RemoteFetchConfig(), "remote_url_not_allowed")
    assert server.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://user:pw@127.0.0.1/png",
        "http://user@127.0.0.1/png",
        "http://127.0.0.1:80@evil.example/png",
    ],
)
def test_userinfo_refused(url: str) -> None:
    expect_error(url, config(), "remote_url_userinfo")


@pytest.mark.parametrize("url", ["http://127.0.0.1/png", "ftp://127.0.0.1/png", "file:///etc/passwd", "gopher://x/"])
def test_scheme_not_allowed(url: str) -> None:
    expect_error(url, config(allowed_schemes=["https"]), "remote_scheme_not_allowed")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1\\@evil.example/",
        "http://127.0.0.1/a b",
        "http://127.0.0.1/a\tb",
        "http:///png",
        "http://127.0.0.1:99999/png",
        "http://127.0.0.1:0/png",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://127.1/",
        "http://%31%32%37.0.0.1/",
        "http://[fe80::1%25eth0]/",
        "http://exa_mple..com/",
    ],
)
def test_malformed_or_ambiguous_urls_refused(url: str) -> None:
    expect_error(url, config(allowed_hosts=["127.0.0.1", "*.com"]), "invalid_url")


def test_host_not_on_allow_list_refused(server: ServerState) -> None:
    expect_error(server.url("/png", host="localhost"), config(), "remote_host_not_allowed")
    expect_error("http://example.com/png", config(), "remote_host_not_allowed")
    assert server.requests == []


@pytest.mark.parametrize(
    "host", ["169.254.169.254", "10.0.0.1", "[::1]", "0.0.0.0", "[::ffff:127.0.0.1]", "100.64.0.1", "[fe80::1]"]
)
def test_ip_literals_refused(host: str) -> None:
    url = f"http://{host}/latest/meta-data/"
    # Not listed: refused by the allow-list (a wildcard never matches an IP).
    expect_error(url, config(allowed_hosts=["*.example.com"], allow_private_addresses=False), "remote_host_not_allowed")
    # Listed literally: still refused as non-public, before any connection.
    expect_error(url, config(allowed_hosts=[host], allow_private_addresses=False), "remote_address_not_allowed")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_refused_without_opt_in_and_no_connection_made(server: ServerState, host: str) -> None:
    err = expect_error(
        server.url("/png", host=host),
        config(allowed_hosts=["127.0.0.1", "localhost"], allow_private_addresses=False),
        "remote_address_not_allowed",
    )
    assert "127.0.0.1" not in err.message and "::1" not in err.message
    assert server.requests == []
