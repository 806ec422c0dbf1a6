"""Which URLs and addresses may be fetched: strict URL parsing, the host allow-list, public addresses
only, and resolution within the deadline."""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import idna
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipelines.core.errors import InvalidRequestError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_REMOTE_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
MEDIA_TYPE_RE = re.compile(r"[a-z0-9!#$&^_.+\-]+/[a-z0-9!#$&^_.+\-]+")
# Whitespace, C0/DEL control characters and backslashes: urlsplit silently drops some of them
# and browsers read '\' as '/', so URLs containing them are ambiguous.
_FORBIDDEN_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_STRIPPED_WHITESPACE = " \r\n"
_LABEL_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_\-]*[a-z0-9_])?")
_NUMERIC_LABEL_RE = re.compile(r"0x[0-9a-f]*|[0-9]+")
_MAX_LABEL_CHARS = 63  # RFC 1035
_MAX_HOST_CHARS = 253  # RFC 1035, without the trailing dot
_WILDCARD_PREFIX = "*."
IDENTITY_ENCODINGS = frozenset({"", "identity"})

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


# --- URL and host checks -------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
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


def parse_target(url: str, config: RemoteFetchConfig, *, param: str) -> Target:
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
    return Target(url=canonical, scheme=scheme, host=host, is_ip=ip is not None)


def check_host_allowed(target: Target, config: RemoteFetchConfig, *, param: str) -> None:
    if not host_is_allowed(target.host, config.allowed_hosts):
        raise InvalidRequestError(
            "The image URL's host is not on the allow-list of this service.",
            param=param,
            code="remote_host_not_allowed",
        )


def _invalid_url(param: str, reason: str) -> InvalidRequestError:
    return InvalidRequestError(f"Invalid image URL: {reason}.", param=param, code="invalid_url")


def timeout_error(config: RemoteFetchConfig, param: str) -> InvalidRequestError:
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


def resolve(target: Target, deadline: float, *, param: str) -> list[str]:
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


def vet_addresses(addresses: Iterable[str], config: RemoteFetchConfig, *, param: str) -> None:
    if config.allow_private_addresses:
        return
    if not all(is_public_address(address) for address in addresses):
        raise InvalidRequestError(
            "The image URL's host resolves to a non-public address.", param=param, code="remote_address_not_allowed"
        )
