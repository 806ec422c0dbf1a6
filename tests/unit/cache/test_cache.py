"""The response cache: what is cacheable, what the key depends on, the LRU, and a real redis-server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from pipelines.cache import CacheConfig, MemoryCache, RedisCache, build_cache, cache_key
from pipelines.core.secrets import SecretSourceError
from pipelines.core.types import GenerationRequest
from tests.unit.generation_requests import user_request


def request(
    text: str = "is this real leather?", image: Image.Image | None = None, **params: object
) -> GenerationRequest:
    return user_request("r", text, image, **{"max_tokens": 16, **params})


def key(req: GenerationRequest, model: str = "m@default:none", policy: str = "p1") -> str | None:
    return cache_key(req, model, policy)


def test_only_deterministic_requests_are_cacheable() -> None:
    assert key(request(temperature=0.0)) is not None
    assert key(request(temperature=0.8, seed=7)) is not None
    assert key(request(temperature=0.8)) is None  # sampled without a seed


def test_key_depends_on_everything_that_determines_the_answer() -> None:
    red = Image.new("RGB", (8, 8), "red")
    base = key(request(image=red))
    assert base == key(request(image=red.copy()))  # same pixels, another object
    assert base != key(request(image=Image.new("RGB", (8, 8), "blue")))
    assert base != key(request("other text", image=red))
    assert base != key(request(image=red, max_tokens=17))
    assert base != key(request(image=red, stop=["."]))
    assert base != key(request(image=red), model="m@rev2:none")
    assert base != key(request(image=red), policy="p2")
    seeded = key(request(temperature=0.8, seed=1))
    assert seeded != key(request(temperature=0.8, seed=2)) and seeded != key(request(temperature=0.7, seed=1))


def test_memory_cache_is_an_lru_with_a_ttl() -> None:
    cache = MemoryCache(max_entries=2, ttl_s=0.2)
    cache.set("a", b"1")
    cache.set("b", b"2")
    assert cache.get("a") == b"1"  # a is now the most recent
    cache.set("c", b"3")
    assert cache.get("b") is None and cache.get("a") == b"1" and len(cache) == 2
    time.sleep(0.25)
    assert cache.get("a") is None


def test_build_cache() -> None:
    assert build_cache(CacheConfig(enabled=False)) is None
    assert isinstance(build_cache(CacheConfig()), MemoryCache)
    with pytest.raises(ValueError, match="redis_url"):
        build_cache(CacheConfig(backend="redis"))
    with pytest.raises(ValueError, match=r"signing_key_env or cache\.signing_key_file"):
        build_cache(CacheConfig(backend="redis", redis_url="redis://127.0.0.1:1/0"))


def _redis_server(work: Path, *options: str) -> Iterator[str]:
    """A private redis-server on a free loopback port; yields its URL (no password in it)."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (make setup installs it from Debian's packages)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen([*command, "--dir", str(work), *options], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _redis_server(tmp_path_factory.mktemp("redis"))


REDIS_PASSWORD = "s3cret-redis-pass/with:odd@chars"


@pytest.fixture(scope="module")
def protected_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server that needs ``REDIS_PASSWORD`` (``requirepass``)."""
    yield from _redis_server(tmp_path_factory.mktemp("redis-auth"), "--requirepass", REDIS_PASSWORD)


SIGNING = {"signing_key_env": "QVS_TEST_CACHE_KEY"}


def test_redis_cache_against_a_real_server(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QVS_TEST_CACHE_KEY", "a-long-enough-cache-secret")
    # ttl above a loaded VM's pauses
    cache = build_cache(CacheConfig(backend="redis", redis_url=redis_url, ttl_s=2.0, **SIGNING))
    assert isinstance(cache, RedisCache)
    assert cache.get("k") is None
    cache.set("k", b'{"answer": 1}')
    assert cache.get("k") == b'{"answer": 1}'
    assert cache.client.pttl("qvs:cache:k") > 0  # stored with its time to live, under the prefix
    time.sleep(2.1)
    assert cache.get("k") is None
    assert cache.errors == 0


def test_redis_outage_is_a_miss_not_an_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    cache = RedisCache(
        f"redis://:secret@127.0.0.1:{dead_port}/0", ttl_s=1, key_prefix="x:", timeout_s=0.1, signing_key=b"k" * 16
    )
    cache.set("k", b"v")
    assert cache.get("k") is None and cache.errors == 2


def test_an_entry_planted_in_redis_without_the_key_is_a_miss(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QVS_TEST_CACHE_KEY", "a-long-enough-cache-secret")
    cache = build_cache(CacheConfig(backend="redis", redis_url=redis_url, key_prefix="sig:", **SIGNING))
    assert isinstance(cache, RedisCache)
    cache.set("real", b'{"answer": "screened"}')
    assert cache.get("real") == b'{"answer": "screened"}'
    cache.client.set("sig:planted", b"\x00" * 32 + b'{"answer": "never screened"}')
    signed_elsewhere = cache.client.get("sig:real")
    cache.client.set("sig:moved", signed_elsewhere)  # a real entry moved under another key
    assert cache.get("planted") is None and cache.get("moved") is None
    assert cache.forged == 2 and cache.errors == 0
    monkeypatch.setenv("QVS_TEST_CACHE_KEY", "short")
    with pytest.raises(ValueError, match="at least 16 characters"):
        build_cache(CacheConfig(backend="redis", redis_url=redis_url, **SIGNING))


def test_the_redis_password_comes_from_a_variable_or_a_file_and_reaches_the_server(
    protected_redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("QVS_TEST_CACHE_KEY", "a-long-enough-cache-secret")
    monkeypatch.setenv("QVS_TEST_REDIS_PASSWORD", REDIS_PASSWORD)
    password_file = tmp_path / "redis-password"
    password_file.write_text(REDIS_PASSWORD + "\n")
    for source in ({"redis_password_env": "QVS_TEST_REDIS_PASSWORD"}, {"redis_password_file": str(password_file)}):
        cache = build_cache(CacheConfig(backend="redis", redis_url=protected_redis_url, **SIGNING, **source))
        assert isinstance(cache, RedisCache)
        cache.set("k", b"v")
        assert cache.get("k") == b"v" and cache.errors == 0
    without = build_cache(CacheConfig(backend="redis", redis_url=protected_redis_url, **SIGNING))
    assert isinstance(without, RedisCache)
    with caplog.at_level("WARNING"):
        assert without.get("k") is None and without.errors == 1  # NOAUTH: a miss, and the server really asked
    assert REDIS_PASSWORD not in caplog.text


def test_a_named_redis_password_source_that_is_empty_or_doubled_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QVS_TEST_CACHE_KEY", "a-long-enough-cache-secret")
    monkeypatch.delenv("QVS_NO_REDIS_PASSWORD", raising=False)
    unset = CacheConfig(backend="redis", redis_url="redis://127.0.0.1:1/0", redis_password_env="QVS_NO_REDIS_PASSWORD")
    with pytest.raises(SecretSourceError, match="redis_password_env names 'QVS_NO_REDIS_PASSWORD', which is unset"):
        build_cache(unset.model_copy(update=SIGNING))
    monkeypatch.setenv("QVS_TEST_REDIS_PASSWORD", "pw")
    doubled = CacheConfig(
        backend="redis", redis_url="redis://:inline@127.0.0.1:1/0", redis_password_env="QVS_TEST_REDIS_PASSWORD"
    )
    with pytest.raises(SecretSourceError, match="not both"):
        build_cache(doubled.model_copy(update=SIGNING))
