"""The pure helpers (allow-list matching, host normalisation, public addresses, remote URLs) and the
config's validation.

See ``loopback.py``: everything runs against a loopback server; no test touches the network."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from pydantic import ValidationError

from pipelines.inputs.remote import (
    RemoteFetchConfig,
    host_is_allowed,
    is_public_address,
    is_remote_url,
    normalize_host,
)
from tests.unit.inputs.remote_fetch.loopback import PUBLIC_NAME, expect_error, fake_resolver

# --- pure helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("a.example.com", True),
        ("A.B.Example.COM.", True),
        ("example.com", False),
        ("example.com.evil.org", False),
        ("evilexample.com", False),
        ("a.example.com.", True),
        ("a.example.co", False),
        ("xn--bcher-kva.example.com", True),
        ("bücher.example.com", True),
        ("1.2.3.4", False),
        ("", False),
    ],
)
def test_wildcard_allow_list(host: str, allowed: bool) -> None:
    assert host_is_allowed(host, ["*.example.com"]) is allowed


@pytest.mark.parametrize(
    ("host", "entries", "allowed"),
    [
        ("images.example.com", ["images.example.com"], True),
        ("Images.Example.Com.", ["images.example.com"], True),
        ("cdn.images.example.com", ["images.example.com"], False),
        ("bücher.example", ["xn--bcher-kva.example"], True),
        ("BÜCHER.example", ["bücher.example"], True),
        ("::1", ["[::1]"], True),
        ("0:0:0:0:0:0:0:1", ["::1"], True),
        ("127.0.0.1", ["localhost"], False),
        ("example.com", [], False),
    ],
)
def test_exact_allow_list(host: str, entries: list[str], allowed: bool) -> None:
    assert host_is_allowed(host, entries) is allowed


@pytest.mark.parametrize(
    ("host", "normalized"),
    [
        ("Example.COM.", "example.com"),
        ("[0:0:0:0:0:0:0:1]", "::1"),
        ("[::FFFF:7f00:1]", normalize_host("::ffff:127.0.0.1")),
        ("Bücher.example", "xn--bcher-kva.example"),
    ],
)
def test_normalize_host(host: str, normalized: str) -> None:
    assert normalize_host(host) == normalized


@pytest.mark.parametrize("host", ["", "a..b", "-a.com", "a b.com", "a%2e.com", "127.1", "0x7f000001", "a.123"])
def test_normalize_host_rejects(host: str) -> None:
    with pytest.raises(ValueError):
        normalize_host(host)


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.0.9",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.255",
        "0.0.0.0",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "198.18.0.1",
        "::",
        "::1",
        "fe80::1",
        "fe80::1%1",
        "fc00::1",
        "fd12:3456::1",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "64:ff9b::10.0.0.1",
        "2002:a00:1::",
        "2001:db8::1",
        "not an address",
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize(
    ("source", "remote"),
    [
        ("https://example.com/a.png", True),
        ("HTTP://example.com/a.png", True),
        ("\n https://example.com/a.png", True),
        ("data:image/png;base64,AAAA", False),
        ("iVBORw0KGgo=", False),
        ("ftp://example.com/a.png", False),
        ("httpx://example.com", False),
        ("", False),
    ],
)
def test_is_remote_url(source: str, remote: bool) -> None:
    assert is_remote_url(source) is remote


def test_config_normalises_and_validates() -> None:
    cfg = RemoteFetchConfig(allowed_hosts=["Images.Example.COM.", "*.CDN.example", "[::1]"], allowed_schemes=["HTTPS"])
    assert cfg.allowed_hosts == ["images.example.com", "*.cdn.example", "::1"]
    assert cfg.allowed_schemes == ["https"]
    defaults = RemoteFetchConfig()
    assert defaults.allowed_hosts == [] and defaults.allowed_schemes == ["https"]
    assert not defaults.allow_private_addresses


@pytest.mark.parametrize(
    "overrides",
    [
        {"allowed_hosts": ["*"]},
        {"allowed_hosts": ["*.10.0.0.1"]},
        {"allowed_hosts": ["https://example.com"]},
        {"allowed_hosts": ["a.*.example.com"]},
        {"allowed_schemes": ["ftp"]},
        {"timeout_s": 0},
        {"max_bytes": 0},
        {"max_redirects": -1},
        {"user_agent": "x\r\nCookie: a=b"},
        {"unknown": 1},
    ],
)
def test_config_rejects(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RemoteFetchConfig(**overrides)


def test_errors_name_no_resolved_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_resolver({PUBLIC_NAME: ["169.254.169.254"]}))
    err = expect_error(
        f"https://{PUBLIC_NAME}/x", RemoteFetchConfig(allowed_hosts=[PUBLIC_NAME]), "remote_address_not_allowed"
    )
    assert "169.254" not in err.message
