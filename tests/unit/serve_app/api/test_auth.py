"""Key sources: a source that is named but holds no key refuses to start; it never means "auth off"."""

from __future__ import annotations

from pathlib import Path

import pytest

from serve_app.api.auth import KeySourceError, load_api_keys
from serve_app.config import IngressUserConfig


def test_keys_come_from_the_variable_and_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QVS_KEYS", " one , two,")
    (tmp_path / "admins").write_text("root-key\n\n  \n")
    keys = load_api_keys(IngressUserConfig(api_key_env="QVS_KEYS", admin_api_key_file=str(tmp_path / "admins")))
    assert keys.callers == [b"one", b"two"] and keys.admins == [b"root-key"] and keys.required
    assert not load_api_keys(IngressUserConfig()).required  # nothing named: no keys, by choice


@pytest.mark.parametrize("value", [None, "", " , ,"])
@pytest.mark.parametrize("field", ["api_key_env", "admin_api_key_env"])
def test_a_named_variable_that_is_unset_or_empty_refuses_to_start(
    field: str, value: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is None:
        monkeypatch.delenv("QVS_MISSING_KEYS", raising=False)
    else:
        monkeypatch.setenv("QVS_MISSING_KEYS", value)
    with pytest.raises(KeySourceError, match=f"{field} names 'QVS_MISSING_KEYS', which is unset or empty"):
        load_api_keys(IngressUserConfig(**{field: "QVS_MISSING_KEYS"}))


@pytest.mark.parametrize("field", ["api_key_file", "admin_api_key_file"])
def test_an_empty_or_missing_key_file_refuses_to_start(field: str, tmp_path: Path) -> None:
    empty = tmp_path / "keys"
    empty.write_text("\n   \n")
    with pytest.raises(KeySourceError, match="holds no value"):
        load_api_keys(IngressUserConfig(**{field: str(empty)}))
    with pytest.raises(KeySourceError, match="cannot be read: FileNotFoundError"):
        load_api_keys(IngressUserConfig(**{field: str(tmp_path / "nope")}))
