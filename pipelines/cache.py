"""Exact-match response cache for deterministic requests, in memory (LRU) or in Redis.

Only requests whose answer is fully determined are cached: greedy decoding, or sampling with an
explicit seed. The key hashes everything the answer depends on: the messages (text, and each
image's decoded pixels, so the same picture in another container format hits), the sampling
parameters, the model version (name, revision, quantisation) and the policy version. A cached
value is the whole response body, moderation annotations included.

A cache failure (Redis down, a bad entry) is a miss, never an error for the request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections import OrderedDict
from typing import Literal, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from pipelines.core.secrets import MIN_KEY_CHARS, SecretSourceError, read_secret
from pipelines.core.types import GenerationRequest, ImagePart, TextPart
from pipelines.inputs.images import image_sha256

logger = logging.getLogger(__name__)


SIGNATURE_BYTES = 32  # HMAC-SHA256


class CacheConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Cache answers of deterministic requests (greedy, or seeded).")
    backend: Literal["memory", "redis"] = Field("memory", description="`memory`: an LRU per ingress replica.")
    max_entries: int = Field(10_000, ge=1, description="LRU size of the memory backend.")
    ttl_s: float = Field(3600.0, gt=0, description="How long an answer stays cached.")
    redis_url: str | None = Field(
        None,
        description="`redis://host:port/db` for the redis backend (never logged); a password belongs in "
        "`redis_password_env` / `redis_password_file` rather than in the URL.",
    )
    redis_password_env: str | None = Field(
        None,
        description="Environment variable holding the Redis password (AUTH), passed to the client apart from the "
        "URL. Named but unset or empty: the replica refuses to start.",
    )
    redis_password_file: str | None = Field(
        None, description="File holding the Redis password; the same rules as `redis_password_env`."
    )
    key_prefix: str = Field("qvs:cache:", description="Namespace of the keys in Redis.")
    timeout_s: float = Field(0.2, gt=0, description="Redis socket timeout; a slow cache is a miss.")
    signing_key_env: str | None = Field(
        None,
        description="Environment variable holding the secret that signs Redis entries (HMAC-SHA256), so a "
        "writable Redis cannot plant an answer; the redis backend needs it or `signing_key_file`.",
    )
    signing_key_file: str | None = Field(None, description="File holding the Redis signing secret.")

    def signing_key(self) -> bytes:
        """The Redis signing secret; a named source that is empty, or none at all, is an error."""
        secret = read_secret(self.signing_key_env, self.signing_key_file, "signing_key", min_chars=MIN_KEY_CHARS)
        if secret is None:
            raise SecretSourceError("cache.backend redis needs cache.signing_key_env or cache.signing_key_file")
        return secret.encode()

    def redis_password(self) -> str | None:
        """The password from its variable or file (None when neither is named; then the URL's, if any)."""
        password = read_secret(self.redis_password_env, self.redis_password_file, "redis_password")
        if password is not None and self.redis_url and urlsplit(self.redis_url).password:
            raise SecretSourceError("give the Redis password in redis_url or in redis_password_env/_file, not both")
        return password


def cache_key(request: GenerationRequest, model_version: str, policy_version: str) -> str | None:
    """SHA-256 of what determines the answer, or None when the request samples without a seed."""
    p = request.params
    if not p.greedy and p.seed is None:
        return None
    messages = []
    for message in request.messages:
        parts = []
        for part in message.parts:
            if isinstance(part, TextPart):
                parts.append({"text": part.text})
            elif isinstance(part, ImagePart):
                parts.append({"image": image_sha256(part.image)})
        messages.append({"role": message.role, "parts": parts})
    material = {
        "messages": messages,
        "params": {
            "max_tokens": p.max_tokens,
            "temperature": p.temperature,
            "top_p": p.top_p if not p.greedy else None,
            "seed": p.seed if not p.greedy else None,
            "stop": p.stop,
        },
        "model": model_version,
        "policy": policy_version,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class ResponseCache(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes) -> None: ...


class MemoryCache:
    """Thread-safe LRU with a time to live."""

    def __init__(self, max_entries: int, ttl_s: float) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, value = entry
            if time.monotonic() >= expires:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def set(self, key: str, value: bytes) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + self.ttl_s, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class RedisCache:
    """Shared by every ingress replica. Errors are logged (without the URL) and read as misses."""

    def __init__(
        self,
        url: str,
        ttl_s: float,
        key_prefix: str,
        timeout_s: float,
        signing_key: bytes,
        password: str | None = None,
    ) -> None:
        """``password``, when given, is sent apart from ``url`` (which then must not carry one: redis-py
        would prefer the URL's)."""
        import redis

        self.signing_key = signing_key
        self.forged = 0  # entries whose signature did not match: read as misses
        auth = {"password": password} if password is not None else {}
        self.client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, **auth)
        self.ttl_ms = int(ttl_s * 1000)
        self.key_prefix = key_prefix
        self.errors = 0

    def get(self, key: str) -> bytes | None:
        try:
            stored = self.client.get(self.key_prefix + key)
        except Exception as exc:  # noqa: BLE001 - any Redis failure is a miss
            self._failed("get", exc)
            return None
        if stored is None:
            return None
        signature, value = stored[:SIGNATURE_BYTES], stored[SIGNATURE_BYTES:]
        if not hmac.compare_digest(signature, self._sign(key, value)):
            self.forged += 1
            logger.warning("redis cache entry with a wrong signature ignored (written without our key)")
            return None
        return value

    def _sign(self, key: str, value: bytes) -> bytes:
        """Over the key too: a signed answer cannot be moved under another request's key."""
        return hmac.new(self.signing_key, key.encode() + b"\x00" + value, hashlib.sha256).digest()

    def set(self, key: str, value: bytes) -> None:
        try:
            self.client.set(self.key_prefix + key, self._sign(key, value) + value, px=self.ttl_ms)
        except Exception as exc:  # noqa: BLE001 - any Redis failure only loses the entry
            self._failed("set", exc)

    def _failed(self, operation: str, exc: Exception) -> None:
        self.errors += 1
        logger.warning("redis cache %s failed: %s", operation, type(exc).__name__)


def build_cache(config: CacheConfig) -> ResponseCache | None:
    if not config.enabled:
        return None
    if config.backend == "redis":
        if not config.redis_url:
            raise ValueError("cache.backend redis needs cache.redis_url")
        return RedisCache(
            config.redis_url,
            config.ttl_s,
            config.key_prefix,
            config.timeout_s,
            config.signing_key(),
            password=config.redis_password(),
        )
    return MemoryCache(config.max_entries, config.ttl_s)
