"""Secrets named in configs: read from an environment variable or a (mounted) file, never from the YAML.

One rule for every secret of the project (API keys, the cache's signing key, the audit digest key,
database and Redis passwords): a source that is named but unset, unreadable or empty is an error
that stops the start, never a silent "no secret". Messages name the config field, never the value.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pipelines.core.paths import resolve_path

T = TypeVar("T")

MIN_KEY_CHARS = 16  # signing and digest keys: enough entropy that guessing the key is hopeless


class SecretSourceError(ValueError):
    """A configured secret source (variable or file) is missing, unreadable or empty."""


def from_env(env: str, what: str, parse: Callable[[str], T]) -> T:
    """``parse`` of the variable ``env``; unset, or parsed to nothing, raises :class:`SecretSourceError`."""
    value = parse(os.environ.get(env, ""))
    if not value:
        raise SecretSourceError(f"{what}_env names {env!r}, which is unset or empty: refusing to start without it")
    return value


def from_file(file: str, what: str, parse: Callable[[str], T]) -> T:
    """``parse`` of the file's text (relative paths resolve as in configs); unreadable or empty raises."""
    try:
        text = Path(resolve_path(file)).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretSourceError(f"{what}_file {file!r} cannot be read: {type(exc).__name__}") from None
    value = parse(text)
    if not value:
        raise SecretSourceError(f"{what}_file {file!r} holds no value: refusing to start without it")
    return value


def read_secret(env: str | None, file: str | None, what: str, *, min_chars: int = 1) -> str | None:
    """The one secret named by ``{what}_env`` or ``{what}_file`` (surrounding white space stripped), or
    None when neither is named. Naming both is an error: which one wins would be a guess."""
    if env and file:
        raise SecretSourceError(f"set {what}_env or {what}_file, not both")
    if env:
        secret = from_env(env, what, str.strip)
    elif file:
        secret = from_file(file, what, str.strip)
    else:
        return None
    if len(secret) < min_chars:
        raise SecretSourceError(f"{what}: the secret must have at least {min_chars} characters")
    return secret
