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

from pipelines.inputs.remote.fetch import fetch_image
from pipelines.inputs.remote.hosts import (
    RemoteFetchConfig,
    host_is_allowed,
    is_public_address,
    is_remote_url,
    normalize_host,
)

__all__ = [
    "RemoteFetchConfig",
    "fetch_image",
    "host_is_allowed",
    "is_public_address",
    "is_remote_url",
    "normalize_host",
]
