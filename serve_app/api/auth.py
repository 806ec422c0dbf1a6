"""API keys: where they come from, and a constant-time check of the one a request presents."""

from __future__ import annotations

import hmac
import os
from pathlib import Path

from fastapi import Request

from pipelines.core.errors import AuthenticationError
from pipelines.core.paths import resolve_path
from serve_app.config import IngressUserConfig


def load_api_keys(settings: IngressUserConfig) -> list[bytes]:
    keys: list[str] = []
    if settings.api_key_env:
        keys += os.environ.get(settings.api_key_env, "").split(",")
    if settings.api_key_file:
        keys += Path(resolve_path(settings.api_key_file)).read_text().splitlines()
    return [k.strip().encode() for k in keys if k.strip()]


def presented_key(request: Request) -> bytes:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip().encode() if scheme.lower() == "bearer" else b""


def matches_any(presented: bytes, keys: list[bytes]) -> bool:
    """Compared with every key, in constant time per key (never logged)."""
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented, key)
    return matched


def require_key(request: Request, keys: list[bytes]) -> None:
    if keys and not matches_any(presented_key(request), keys):
        raise AuthenticationError("Invalid or missing API key.")
