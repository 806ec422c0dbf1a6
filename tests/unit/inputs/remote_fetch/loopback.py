"""The loopback HTTP server the remote-fetch tests run against, a loopback-friendly config, and
helpers to expect an error or fake DNS answers."""

from __future__ import annotations

import contextlib
import io
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from PIL import Image

from pipelines.core.errors import InvalidRequestError, ServiceError
from pipelines.inputs.remote import (
    RemoteFetchConfig,
    fetch_image,
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


class Handler(BaseHTTPRequestHandler):
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
