"""Remote image fetching: allow-list, SSRF address vetting, DNS pinning, limits, redirects.

Everything runs against a loopback ``http.server`` (and a raw TLS-capturing socket); no test
touches the network. Tests that must reach the loopback server opt in with
``allow_private_addresses=True``; the ones that must not, assert the server saw no request.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from PIL import Image
from pydantic import ValidationError

from pipelines.core.errors import InvalidRequestError, PayloadTooLargeError, ServiceError
from pipelines.inputs.remote import (
    RemoteFetchConfig,
    fetch_image,
    host_is_allowed,
    is_public_address,
    is_remote_url,
    normalize_host,
)

PARAM = "messages[0].content[0].image_url.url"
CAP = 256 * 1024
BIG_TOTAL = 64 * 1024 * 1024
BIG_CHUNK = 64 * 1024
SLOW_S = 5.0
DRIP_INTERVAL_S = 0.05
SHORT_TIMEOUT_S = 0.3
TIMEOUT_BOUND_S = 1.5
UA = "test-fetcher/1"
PUBLIC_NAME = "images.example.com"


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 3), (10, 200, 30)).save(buf, format="PNG")
    return buf.getvalue()


PNG = _png()


@dataclass
class ServerState:
    port: int
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    big_sent: list[int] = field(default_factory=list)
    big_aborted: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.0: one request per connection, a body without Content-Length ends with the connection."""

    state: ServerState

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        pass

    def do_GET(self) -> None:
        state = self.server.state  # type: ignore[attr-defined]
        state.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        route = self.path.split("?", 1)[0]
        handler = getattr(self, "route_" + route.strip("/").replace("-", "_"), None)
        if handler is None:
            self._send(404, b"secret internal detail", "text/plain")
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            handler(state)

    def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str, **headers: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()

    def route_png(self, state: ServerState) -> None:
        self._send(200, PNG, "image/PNG; charset=binary")

    def route_echo(self, state: ServerState) -> None:
        self._send(200, PNG, "image/png")

    def route_big(self, state: ServerState) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        sent = 0
        try:
            while sent < BIG_TOTAL:
                self.wfile.write(b"\0" * BIG_CHUNK)
                sent += BIG_CHUNK
        except (BrokenPipeError, ConnectionResetError):
            state.big_aborted.set()
        state.big_sent.append(sent)

    def route_big_declared(self, state: ServerState) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(BIG_TOTAL))
        self.end_headers()
        self.wfile.write(PNG)

    def route_slow(self, state: ServerState) -> None:
        state.stop.wait(SLOW_S)
        self._send(200, PNG, "image/png")

    def route_drip(self, state: ServerState) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        for _ in range(int(SLOW_S / DRIP_INTERVAL_S)):
            if state.stop.wait(DRIP_INTERVAL_S):
                return
            self.wfile.write(b"x")
            self.wfile.flush()

    def route_gzip(self, state: ServerState) -> None:
        self._send(200, PNG, "image/png", Content_Encoding="gzip")

    def route_empty(self, state: ServerState) -> None:
        self._send(200, b"", "image/png")

    def route_redirect_same(self, state: ServerState) -> None:
        self._redirect("/png")

    def route_redirect_absolute(self, state: ServerState) -> None:
        self._redirect(state.url("/png"))

    def route_redirect_other(self, state: ServerState) -> None:
        self._redirect(state.url("/png", host="localhost"))

    def route_redirect_scheme(self, state: ServerState) -> None:
        self._redirect(state.url("/png", scheme="https"))

    def route_redirect_userinfo(self, state: ServerState) -> None:
        self._redirect(state.url("/png", host="user:pw@127.0.0.1"))

    def route_redirect_loop(self, state: ServerState) -> None:
        self._redirect("/redirect-loop")

    def route_redirect_cookie(self, state: ServerState) -> None:
        self._redirect("/echo", Set_Cookie="session=secret; Path=/")


@pytest.fixture(scope="module")
def server_state() -> Iterator[ServerState]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    state = ServerState(port=server.server_address[1])
    server.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.stop.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def server(server_state: ServerState) -> ServerState:
    server_state.requests.clear()
    server_state.big_sent.clear()
    server_state.big_aborted.clear()
    return server_state


def config(**overrides: Any) -> RemoteFetchConfig:
    """A loopback-friendly config: http, 127.0.0.1 allow-listed, private addresses allowed."""
    settings: dict[str, Any] = {
        "allowed_hosts": ["127.0.0.1"],
        "allowed_schemes": ["http"],
        "allow_private_addresses": True,
        "timeout_s": 2.0,
        "max_bytes": CAP,
        "user_agent": UA,
    }
    settings.update(overrides)
    return RemoteFetchConfig(**settings)


def expect_error(
    url: str, cfg: RemoteFetchConfig, code: str, cls: type[ServiceError] = InvalidRequestError
) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        fetch_image(url, cfg, param=PARAM)
    assert type(info.value) is cls
    assert info.value.code == code
    assert info.value.param == PARAM
    return info.value


def fake_resolver(answers: dict[str, list[str]]) -> Callable[..., list[tuple[Any, ...]]]:
    """A ``getaddrinfo`` that answers for ``answers``' names and defers to the real one for anything else."""
    real = socket.getaddrinfo

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host not in answers:
            return real(host, port, *args, **kwargs)
        infos: list[tuple[Any, ...]] = []
        for address in answers[host]:
            if ":" in address:
                infos.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, 0, 0, 0)))
            else:
                infos.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 0)))
        return infos

    return resolve


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
