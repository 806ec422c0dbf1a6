"""API keys: where they come from, and a constant-time check of the one a request presents.

Two kinds: caller keys open the generation and moderation routes; admin keys open those and the
routes that read other requests' data (the audit log). A key source that is named but yields no
key is a configuration error, never "auth off": the replica refuses to start.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from fastapi import Request

from pipelines.core.errors import AuthenticationError, PermissionDeniedError
from pipelines.core.secrets import SecretSourceError, from_env, from_file
from serve_app.config import IngressUserConfig

# A configured key source (variable or file) that is missing, unreadable or empty.
KeySourceError = SecretSourceError


@dataclass(frozen=True)
class ApiKeys:
    callers: list[bytes] = field(default_factory=list)
    admins: list[bytes] = field(default_factory=list)

    @property
    def required(self) -> bool:
        return bool(self.callers or self.admins)


def read_keys(env: str | None, file: str | None, what: str) -> list[bytes]:
    """The keys of one source pair; a named source that holds no key raises :class:`KeySourceError`."""
    keys: list[bytes] = []
    if env:
        keys += from_env(env, what, lambda text: _split(text.split(",")))
    if file:
        keys += from_file(file, what, lambda text: _split(text.splitlines()))
    return keys


def load_api_keys(settings: IngressUserConfig) -> ApiKeys:
    return ApiKeys(
        callers=read_keys(settings.api_key_env, settings.api_key_file, "api_key"),
        admins=read_keys(settings.admin_api_key_env, settings.admin_api_key_file, "admin_api_key"),
    )


def _split(values: list[str]) -> list[bytes]:
    return [v.strip().encode() for v in values if v.strip()]


def presented_key(request: Request) -> bytes:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip().encode() if scheme.lower() == "bearer" else b""


def matches_any(presented: bytes, keys: list[bytes]) -> bool:
    """Compared with every key, in constant time per key (never logged)."""
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented, key)
    return matched


def require_key(request: Request, keys: ApiKeys, *, admin: bool = False) -> None:
    """401 without a valid key (when keys are configured); 403 for a caller key on an admin route."""
    if not keys.required:
        return
    presented = presented_key(request)
    is_admin = matches_any(presented, keys.admins)
    if not (is_admin or matches_any(presented, keys.callers)):
        raise AuthenticationError("Invalid or missing API key.")
    if admin and not is_admin:
        raise PermissionDeniedError("This route needs an admin API key.")
