"""Fetching one image URL under the policy: vet, connect pinned, follow same-host redirects, read a bounded raw body."""

from __future__ import annotations

import time
from collections.abc import Sequence
from urllib.parse import urljoin

import httpx

from pipelines.core.errors import InvalidRequestError, PayloadTooLargeError
from pipelines.inputs.remote.hosts import (
    IDENTITY_ENCODINGS,
    MEDIA_TYPE_RE,
    REDIRECT_STATUSES,
    RemoteFetchConfig,
    Target,
    check_host_allowed,
    parse_target,
    resolve,
    timeout_error,
    vet_addresses,
)
from pipelines.inputs.remote.transport import pinned_client


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
    target = parse_target(url, config, param=param)
    check_host_allowed(target, config, param=param)
    addresses = resolve(target, deadline, param=param)
    vet_addresses(addresses, config, param=param)
    try:
        return _download(target, addresses, config, deadline, param=param)
    except httpx.TimeoutException:
        raise timeout_error(config, param) from None
    except (httpx.HTTPError, httpx.InvalidURL):
        if time.monotonic() >= deadline:
            raise timeout_error(config, param) from None
        raise InvalidRequestError(
            "Could not fetch the image URL (connection or protocol error).", param=param, code="remote_fetch_failed"
        ) from None


# --- download ------------------------------------------------------------------------------------


def _download(
    target: Target, addresses: Sequence[str], config: RemoteFetchConfig, deadline: float, *, param: str
) -> tuple[str | None, bytes]:
    redirects = 0
    with pinned_client(target, addresses, config, deadline) as client:
        while True:
            with client.stream("GET", target.url) as response:
                location = response.headers.get("location")
                if response.status_code not in REDIRECT_STATUSES or location is None:
                    return _read_body(response, config, param=param)
            if redirects >= config.max_redirects:
                raise InvalidRequestError(
                    f"The image URL redirected more than {config.max_redirects} times.",
                    param=param,
                    code="too_many_redirects",
                )
            redirects += 1
            target = _redirect_target(target, location, config, param=param)


def _redirect_target(current: Target, location: str, config: RemoteFetchConfig, *, param: str) -> Target:
    """Only same-host redirects to an allowed scheme are followed: they reuse the already vetted addresses."""
    try:
        target = parse_target(urljoin(current.url, location.strip()), config, param=param)
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
    if response.headers.get("content-encoding", "").strip().lower() not in IDENTITY_ENCODINGS:
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
    return media_type if MEDIA_TYPE_RE.fullmatch(media_type) else None
