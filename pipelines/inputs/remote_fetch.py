"""Fetching ``http(s)://`` image URLs on a client's behalf without opening an SSRF hole.

Off by default: with an empty ``allowed_hosts`` every remote URL is refused. When enabled,
``fetch_image`` only talks to allow-listed hosts, only to public addresses, and never to an
address it did not vet itself:

1. The URL is parsed strictly: no whitespace, control characters or backslashes (parsers
   disagree on them), no ``user:pass@``, only ``allowed_schemes``, a syntactically valid host.
   Legacy numeric IPv4 spellings (``2130706433``, ``0x7f.1``, ``127.1``) are refused rather than
   guessed at. The host is lower-cased, IDNA-encoded (UTS #46) and stripped of a trailing dot.
2. The host must be on ``allowed_hosts``: an exact name, a ``*.example.com`` suffix wildcard
   (any depth of subdomain; never ``example.com`` itself), or an IP literal listed literally.
3. The host is resolved once with ``socket.getaddrinfo`` (in a helper thread, so the lookup
   counts against the deadline); if ANY address is non-public, the URL is refused.
4. DNS rebinding: the connection goes to the vetted addresses, never to a second lookup.
   httpx's transport is built on an httpcore network backend that maps the host name to
   the vetted addresses (and refuses any other host), while httpx keeps using the host name
   for the ``Host`` header, the TLS SNI and certificate verification (certifi CA bundle).
   Redirects are followed only to the same host name, so they reuse the same vetted
   addresses; there is no window between check and connect.
5. ``timeout_s`` is one total deadline for resolution, connect, TLS, headers and body: every
   socket operation gets at most the time left (CPython applies a socket timeout as a deadline
   over a whole TLS handshake or ``sendall``), so a server trickling bytes cannot stretch it.
6. The body is read raw (``Accept-Encoding: identity``; a compressed response is refused, so no
   decompression bomb) and the read stops as soon as it passes ``max_bytes``; closing the
   response mid-body closes the connection. A too large ``Content-Length`` is refused upfront.

Decisions:

* A fetch timeout is the client's URL being slow, not the service failing, so it is an
  ``InvalidRequestError`` (HTTP 400) with code ``remote_fetch_timeout``, as OpenAI answers
  "Timeout while downloading" with a 400. A 504 would count client-chosen slowness as a
  server error (and invite retries).
* Error messages never contain resolved addresses, the response body or the redirect target.
* Ports are not restricted: any port of an allow-listed, public host may be fetched.
* No cookies are stored or sent, no credentials, and proxies/certificates from the
  environment are ignored (``trust_env=False``).
* A DNS lookup that outlives the deadline is abandoned; its daemon thread ends when the
  system resolver gives up.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpcore
import httpx
import idna
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipelines.core.errors import InvalidRequestError, PayloadTooLargeError

__all__ = [
    "RemoteFetchConfig",
    "fetch_image",
    "host_is_allowed",
    "is_public_address",
    "is_remote_url",
    "normalize_host",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_REMOTE_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_MEDIA_TYPE_RE = re.compile(r"[a-z0-9!#$&^_.+\-]+/[a-z0-9!#$&^_.+\-]+")
# Whitespace, C0/DEL control characters and backslashes: urlsplit silently drops some of them
# and browsers read '\' as '/', so URLs containing them are ambiguous.
_FORBIDDEN_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_STRIPPED_WHITESPACE = " \r\n"
_LABEL_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_\-]*[a-z0-9_])?")
_NUMERIC_LABEL_RE = re.compile(r"0x[0-9a-f]*|[0-9]+")
_MAX_LABEL_CHARS = 63  # RFC 1035
_MAX_HOST_CHARS = 253  # RFC 1035, without the trailing dot
_WILDCARD_PREFIX = "*."
_IDENTITY_ENCODINGS = frozenset({"", "identity"})

# Ranges refused on top of what ``ipaddress`` calls non-global, so the policy does not depend on
# the Python patch release (the stdlib tables changed in 3.11.10 / 3.12.4).
_BLOCKED_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches the local host on Linux
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata services
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
        "::/128",
        "::1/128",
        "::/96",  # deprecated IPv4-compatible addresses
        "100::/64",  # discard-only
        "2001:db8::/32",
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # deprecated site-local
        "ff00::/8",  # multicast
    )
)
# IPv6 prefixes that carry an IPv4 address a gateway may forward to: the embedded address is
# judged too (a NAT64 gateway would happily reach 64:ff9b::10.0.0.1 = 10.0.0.1).
_NAT64_NETWORK = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_V4_MASK = 0xFFFFFFFF


class RemoteFetchConfig(BaseModel):
    """Policy for fetching remote image URLs; the default refuses them all."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names that may be fetched: exact names ('images.example.com'), suffix wildcards "
        "('*.example.com' matches any subdomain, not example.com itself) or IP literals, which only match "
        "when listed literally. Case-insensitive, IDNA-normalised, trailing dot ignored. Empty refuses "
        "every remote URL.",
    )
    allowed_schemes: list[str] = Field(
        default_factory=lambda: ["https"],
        description="URL schemes that may be fetched, among 'http' and 'https'.",
    )
    timeout_s: float = Field(
        5.0, gt=0, description="Total time for one fetch (DNS, connect, TLS, redirects, body), in seconds."
    )
    max_bytes: int = Field(10 * 1024 * 1024, gt=0, description="Largest response body accepted, in bytes.")
    max_redirects: int = Field(
        3,
        ge=0,
        description="Most redirects followed. Only redirects to the same host and an allowed scheme are "
        "followed; any other redirect is refused.",
    )
    allow_private_addresses: bool = Field(
        False,
        description="Allow hosts that resolve to loopback, private, link-local, CGNAT, multicast or reserved "
        "addresses. For tests only: enabling it in production opens the service to SSRF.",
    )
    user_agent: str = Field(
        "qwen-vl-serve-image-fetcher/1.0",
        min_length=1,
        pattern=r"^[\x20-\x7e]+$",
        description="User-Agent header sent with every fetch.",
    )

    @field_validator("allowed_hosts")
    @classmethod
    def _normalize_allowed_hosts(cls, hosts: list[str]) -> list[str]:
        return [_normalize_pattern(host) for host in hosts]

    @field_validator("allowed_schemes")
    @classmethod
    def _check_schemes(cls, schemes: list[str]) -> list[str]:
        normalized = [scheme.lower() for scheme in schemes]
        unknown = sorted(set(normalized) - _REMOTE_SCHEMES)
        if unknown:
            raise ValueError(f"unsupported schemes {unknown}; only 'http' and 'https' can be fetched")
        return normalized


# --- public helpers ------------------------------------------------------------------------------


def is_remote_url(source: str) -> bool:
    """True when ``source`` is an ``http://`` or ``https://`` URL (any case, surrounding newlines ignored)."""
    if not isinstance(source, str):
        return False
    match = _SCHEME_RE.match(source.strip(_STRIPPED_WHITESPACE))
    return match is not None and match.group(1).lower() in _REMOTE_SCHEMES


def normalize_host(host: str) -> str:
    """Canonical form of a URL host: compressed IP literal, or lower-case ASCII (IDNA) name without trailing dot.

    Raises ``ValueError`` for anything that is not a valid host name or IP literal, including
    legacy numeric IPv4 spellings and IPv6 zone identifiers.
    """
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    address = _parse_ip(text)
    if address is not None:
        return address.compressed
    text = text.removesuffix(".")
    if not text.isascii():
        try:
            text = idna.encode(text, uts46=True).decode("ascii")
        except idna.IDNAError as err:
            raise ValueError(f"invalid internationalised host name: {err}") from None
    text = text.lower()
    labels = text.split(".")
    if len(text) > _MAX_HOST_CHARS or not all(
        len(label) <= _MAX_LABEL_CHARS and _LABEL_RE.fullmatch(label) for label in labels
    ):
        raise ValueError("invalid host name")
    if _NUMERIC_LABEL_RE.fullmatch(labels[-1]):
        raise ValueError("numeric host that is not a dotted-quad IPv4 address")
    return text


def host_is_allowed(host: str, allowed_hosts: Sequence[str]) -> bool:
    """Whether ``host`` matches an allow-list entry; both sides are normalised, invalid ones never match."""
    try:
        normalized = normalize_host(host)
    except ValueError:
        return False
    is_ip = _parse_ip(normalized) is not None
    for entry in allowed_hosts:
        try:
            pattern = _normalize_pattern(entry)
        except ValueError:
            continue
        if pattern.startswith(_WILDCARD_PREFIX):
            if not is_ip and normalized.endswith(pattern[1:]):
                return True
        elif normalized == pattern:
            return True
    return False


def is_public_address(address: str | IPAddress) -> bool:
    """Whether a connection to ``address`` stays on the public Internet.

    Refuses loopback, private, link-local, CGNAT, multicast, unspecified, reserved and
    documentation ranges and scoped IPv6 addresses. An IPv4-mapped IPv6 address is judged as
    its IPv4 address; NAT64, 6to4 and Teredo addresses are refused when the IPv4 address they
    embed is.
    """
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # the socket reaches the IPv4 address; judge that one
    if not _is_global(ip):
        return False
    return all(_is_global(embedded) for embedded in _embedded_ipv4(ip))


def fetch_image(url: str, config: RemoteFetchConfig, *, param: str) -> tuple[str | None, bytes]:
    """Fetch an image URL under ``config``; returns ``(Content-Type media type or None, body)``.

    The same shape as ``parse_image_source``: the media type is lower-cased without parameters
    and not judged here. Raises ``InvalidRequestError`` (400) or ``PayloadTooLargeError`` (413)
    with ``param`` and a stable code; see the module docstring for the policy.
    """
    if not config.allowed_hosts:
        raise InvalidRequestError(
            "Remote image URLs are disabled; send the image inline as a base64 data URL.",
            param=param,
            code="remote_url_not_allowed",
        )
    deadline = time.monotonic() + config.timeout_s
    target = _parse_target(url, config, param=param)
    _check_host_allowed(target, config, param=param)
    addresses = _resolve(target, deadline, param=param)
    _vet_addresses(addresses, config, param=param)
    try:
        return _download(target, addresses, config, deadline, param=param)
    except httpx.TimeoutException:
        raise _timeout_error(config, param) from None
    except (httpx.HTTPError, httpx.InvalidURL):
        if time.monotonic() >= deadline:
            raise _timeout_error(config, param) from None
        raise InvalidRequestError(
            "Could not fetch the image URL (connection or protocol error).", param=param, code="remote_fetch_failed"
        ) from None


# --- URL and host checks -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """A parsed, canonical URL: ``url`` is what is requested (normalised host, no fragment)."""

    url: str
    scheme: str
    host: str
    is_ip: bool


def _parse_ip(text: str) -> IPAddress | None:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        raise ValueError("IPv6 zone identifiers are not allowed")
    return ip


def _normalize_pattern(entry: str) -> str:
    if entry.startswith(_WILDCARD_PREFIX):
        suffix = normalize_host(entry.removeprefix(_WILDCARD_PREFIX))
        if _parse_ip(suffix) is not None:
            raise ValueError(f"wildcard over an IP address: {entry!r}")
        return _WILDCARD_PREFIX + suffix
    return normalize_host(entry)


def _parse_target(url: str, config: RemoteFetchConfig, *, param: str) -> _Target:
    if not isinstance(url, str):
        raise InvalidRequestError("The image URL must be a string.", param=param, code="invalid_type")
    text = url.strip(_STRIPPED_WHITESPACE)
    if _FORBIDDEN_URL_CHARS.search(text):
        raise _invalid_url(param, "it contains whitespace, control characters or backslashes")
    try:
        parts = urlsplit(text)
        raw_host, port = parts.hostname, parts.port
    except ValueError:
        raise _invalid_url(param, "it is malformed") from None
    scheme = parts.scheme.lower()
    if scheme not in config.allowed_schemes:
        allowed = ", ".join(config.allowed_schemes)
        raise InvalidRequestError(
            f"Image URLs must use one of these schemes: {allowed}.", param=param, code="remote_scheme_not_allowed"
        )
    if "@" in parts.netloc:
        raise InvalidRequestError(
            "Image URLs must not contain credentials (user:password@).", param=param, code="remote_url_userinfo"
        )
    if not raw_host or port == 0:
        raise _invalid_url(param, "it has no valid host or port")
    try:
        host = normalize_host(raw_host)
    except ValueError:
        raise _invalid_url(param, "its host is not a valid host name or IP address") from None
    ip = _parse_ip(host)
    netloc = f"[{host}]" if isinstance(ip, ipaddress.IPv6Address) else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    canonical = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    return _Target(url=canonical, scheme=scheme, host=host, is_ip=ip is not None)


def _check_host_allowed(target: _Target, config: RemoteFetchConfig, *, param: str) -> None:
    if not host_is_allowed(target.host, config.allowed_hosts):
        raise InvalidRequestError(
            "The image URL's host is not on the allow-list of this service.",
            param=param,
            code="remote_host_not_allowed",
        )


def _invalid_url(param: str, reason: str) -> InvalidRequestError:
    return InvalidRequestError(f"Invalid image URL: {reason}.", param=param, code="invalid_url")


def _timeout_error(config: RemoteFetchConfig, param: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"Timed out fetching the image URL (limit {config.timeout_s:g} s).", param=param, code="remote_fetch_timeout"
    )


# --- address vetting -----------------------------------------------------------------------------


def _is_global(ip: IPAddress) -> bool:
    return (
        ip.is_global
        and not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast)
        and not (ip.is_reserved or ip.is_unspecified)
        and not any(ip in net for net in _BLOCKED_NETWORKS if net.version == ip.version)
    )


def _embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    embedded = [ip.sixtofour, *(ip.teredo or ())]
    if ip in _NAT64_NETWORK:
        embedded.append(ipaddress.IPv4Address(int(ip) & _NAT64_V4_MASK))
    return [address for address in embedded if address is not None]


def _resolve(target: _Target, deadline: float, *, param: str) -> list[str]:
    """The host's addresses, in resolver order, without duplicates; an IP literal is its own address."""
    if target.is_ip:
        return [target.host]
    infos = _getaddrinfo_before(target.host, deadline, param=param)
    addresses: list[str] = []
    for family, _type, _proto, _canonname, sockaddr in infos:
        address = str(sockaddr[0])
        if family in (socket.AF_INET, socket.AF_INET6) and address not in addresses:
            addresses.append(address)
    if not addresses:
        raise _unresolvable(param)
    return addresses


def _getaddrinfo_before(host: str, deadline: float, *, param: str) -> list[tuple[Any, ...]]:
    """``getaddrinfo`` has no timeout of its own, so it runs in a daemon thread that is abandoned at the deadline."""
    outcome: list[list[tuple[Any, ...]]] = []

    def lookup() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, None, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError):
            outcome.append([])

    worker = threading.Thread(target=lookup, name="remote-fetch-dns", daemon=True)
    worker.start()
    worker.join(max(deadline - time.monotonic(), 0.0))
    if not outcome:
        raise InvalidRequestError("Timed out resolving the image URL's host.", param=param, code="remote_fetch_timeout")
    if not outcome[0]:
        raise _unresolvable(param)
    return outcome[0]


def _unresolvable(param: str) -> InvalidRequestError:
    return InvalidRequestError(
        "The image URL's host could not be resolved.", param=param, code="remote_host_unresolvable"
    )


def _vet_addresses(addresses: Iterable[str], config: RemoteFetchConfig, *, param: str) -> None:
    if config.allow_private_addresses:
        return
    if not all(is_public_address(address) for address in addresses):
        raise InvalidRequestError(
            "The image URL's host resolves to a non-public address.", param=param, code="remote_address_not_allowed"
        )


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


def _client(target: _Target, addresses: Sequence[str], config: RemoteFetchConfig, deadline: float) -> httpx.Client:
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    return httpx.Client(
        transport=_PinnedTransport(_PinnedBackend(target.host, addresses, deadline)),
        trust_env=False,
        follow_redirects=False,
        timeout=httpx.Timeout(config.timeout_s),
        cookies=no_cookies,
        headers={"User-Agent": config.user_agent, "Accept": "image/*", "Accept-Encoding": "identity"},
    )


# --- download ------------------------------------------------------------------------------------


def _download(
    target: _Target, addresses: Sequence[str], config: RemoteFetchConfig, deadline: float, *, param: str
) -> tuple[str | None, bytes]:
    redirects = 0
    with _client(target, addresses, config, deadline) as client:
        while True:
            with client.stream("GET", target.url) as response:
                location = response.headers.get("location")
                if response.status_code not in _REDIRECT_STATUSES or location is None:
                    return _read_body(response, config, param=param)
            if redirects >= config.max_redirects:
                raise InvalidRequestError(
                    f"The image URL redirected more than {config.max_redirects} times.",
                    param=param,
                    code="too_many_redirects",
                )
            redirects += 1
            target = _redirect_target(target, location, config, param=param)


def _redirect_target(current: _Target, location: str, config: RemoteFetchConfig, *, param: str) -> _Target:
    """Only same-host redirects to an allowed scheme are followed: they reuse the already vetted addresses."""
    try:
        target = _parse_target(urljoin(current.url, location.strip()), config, param=param)
    except InvalidRequestError:
        target = None
    if target is None or target.host != current.host:
        raise InvalidRequestError(
            "The image URL redirected to another host or a disallowed URL; only same-host redirects are followed.",
            param=param,
            code="remote_redirect_not_allowed",
        )
    return target


def _read_body(response: httpx.Response, config: RemoteFetchConfig, *, param: str) -> tuple[str | None, bytes]:
    if not response.is_success:
        raise InvalidRequestError(
            f"Fetching the image URL failed with HTTP status {response.status_code}.",
            param=param,
            code="remote_fetch_failed",
        )
    if response.headers.get("content-encoding", "").strip().lower() not in _IDENTITY_ENCODINGS:
        raise InvalidRequestError(
            "The image URL answered with a compressed (Content-Encoding) body, which is not accepted.",
            param=param,
            code="remote_fetch_failed",
        )
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > config.max_bytes:
        raise _too_large(config, param)
    body = bytearray()
    for chunk in response.iter_raw():
        body += chunk
        if len(body) > config.max_bytes:
            raise _too_large(config, param)
    if not body:
        raise InvalidRequestError("The image URL returned an empty body.", param=param, code="empty_image")
    return _media_type(response.headers.get("content-type")), bytes(body)


def _too_large(config: RemoteFetchConfig, param: str) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"The image is larger than the limit of {config.max_bytes} bytes.", param=param, code="image_too_large"
    )


def _media_type(content_type: str | None) -> str | None:
    """The header's ``type/subtype`` lower-cased without parameters; None when absent or malformed."""
    if content_type is None:
        return None
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type if _MEDIA_TYPE_RE.fullmatch(media_type) else None
