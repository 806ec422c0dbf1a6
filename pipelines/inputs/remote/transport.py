"""A pinned transport: connections go to the vetted addresses only (no second DNS lookup), and every
socket operation ends within the deadline."""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Iterable, Sequence
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpcore
import httpx

from pipelines.inputs.remote.hosts import RemoteFetchConfig, Target

# --- pinned transport ----------------------------------------------------------------------------


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation gets at most the time left before the fetch deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, self._deadline, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, self._deadline, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, self._deadline, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, bounded), self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def _bounded(timeout: float | None, deadline: float, expired: type[Exception]) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise expired("the fetch deadline has passed")
    return remaining if timeout is None else min(timeout, remaining)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects the vetted host name to its vetted addresses only (tried in order); any other host is refused."""

    def __init__(self, host: str, addresses: Sequence[str], deadline: float) -> None:
        self._host = host
        self._addresses = tuple(addresses)
        self._deadline = deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if host != self._host:
            raise httpcore.ConnectError("connection to a host that was not vetted")
        failure: Exception = httpcore.ConnectError("no address to connect to")
        for address in self._addresses:
            bounded = _bounded(timeout, self._deadline, httpcore.ConnectTimeout)
            try:
                stream = self._inner.connect_tcp(address, port, bounded, local_address, socket_options)
            except httpcore.ConnectError as err:
                failure = err
                continue
            return _DeadlineStream(stream, self._deadline)
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are never used for remote fetches")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _PinnedTransport(httpx.HTTPTransport):
    """httpx's own transport (request conversion, error mapping) over a pool on the pinned backend.

    ``HTTPTransport`` takes no ``network_backend`` argument, so the pool it builds is replaced
    with an equivalent one; ``test_connects_to_the_vetted_address_only`` fails if httpx's
    internals stop honouring it.
    """

    def __init__(self, backend: _PinnedBackend) -> None:
        super().__init__(trust_env=False, retries=0)
        self._pool = httpcore.ConnectionPool(ssl_context=_ssl_context(), network_backend=backend, retries=0)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying context (certifi CA bundle, environment ignored): loading the bundle costs milliseconds."""
    return httpx.create_ssl_context(trust_env=False)


def pinned_client(target: Target, addresses: Sequence[str], config: RemoteFetchConfig, deadline: float) -> httpx.Client:
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    return httpx.Client(
        transport=_PinnedTransport(_PinnedBackend(target.host, addresses, deadline)),
        trust_env=False,
        follow_redirects=False,
        timeout=httpx.Timeout(config.timeout_s),
        cookies=no_cookies,
        headers={"User-Agent": config.user_agent, "Accept": "image/*", "Accept-Encoding": "identity"},
    )
