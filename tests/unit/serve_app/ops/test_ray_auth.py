"""The project's one Ray token: created on first use (0600), found in the same order by every process."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from serve_app.ops.ray_auth import TOKEN_ENV, TOKEN_PATH_ENV, TokenError, cluster_env, resolve_token


def test_first_use_creates_a_private_project_token(tmp_path: Path) -> None:
    source = resolve_token({}, root=tmp_path, create=True)
    assert source.path == tmp_path / ".cache" / "ray" / "auth_token"
    assert stat.S_IMODE(source.path.stat().st_mode) == 0o600
    assert len(source.path.read_text()) == 64
    assert source.environ() == {"RAY_AUTH_MODE": "token", TOKEN_PATH_ENV: str(source.path)}
    # the next launch, `make stop` and every driver find the same one
    assert resolve_token({}, root=tmp_path, create=False).path.read_text() == source.path.read_text()


def test_a_token_file_readable_by_others_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / ".cache" / "ray" / "auth_token"
    path.parent.mkdir(parents=True)
    path.write_text("abc")
    path.chmod(0o644)
    resolve_token({}, root=tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_injected_token_wins_and_no_file_is_written(tmp_path: Path) -> None:
    source = resolve_token({TOKEN_ENV: "s3cret"}, root=tmp_path, create=True)
    assert source.environ()[TOKEN_ENV] == "s3cret"
    assert not (tmp_path / ".cache").exists()


def test_a_named_token_file_must_exist_and_hold_a_token(tmp_path: Path) -> None:
    with pytest.raises(TokenError, match="missing or empty"):
        resolve_token({TOKEN_PATH_ENV: str(tmp_path / "nope")}, root=tmp_path, create=True)
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(TokenError, match="missing or empty"):
        resolve_token({TOKEN_PATH_ENV: str(tmp_path / "empty")}, root=tmp_path, create=True)
    (tmp_path / "mounted").write_text("tok\n")
    assert resolve_token({TOKEN_PATH_ENV: str(tmp_path / "mounted")}, root=tmp_path).path == tmp_path / "mounted"


def test_a_driver_without_any_token_is_told_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QVS_HOME", str(tmp_path))
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.delenv(TOKEN_PATH_ENV, raising=False)
    with pytest.raises(TokenError, match="make serve"):
        cluster_env(create=False)
    assert not (tmp_path / ".cache").exists()
