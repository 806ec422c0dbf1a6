"""The launcher's preflight: every problem it can see without Ray, as one line naming place, key, problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from serve_app.ops.preflight import ConfigError, check_config, check_config_data

ROOT = Path(__file__).resolve().parents[4]


def _config(tmp_path: Path, edit) -> Path:
    config = yaml.safe_load((ROOT / "configs" / "cpu.yaml").read_text())
    edit(config)
    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _deployment(config: dict, name: str) -> dict:
    return next(d for d in config["applications"][0]["deployments"] if d["name"] == name)


@pytest.mark.parametrize("name", ["cpu.yaml", "serve.yaml", "canary.yaml"])
def test_the_shipped_configs_pass(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert check_config(ROOT / "configs" / name)["applications"]


def test_an_unknown_user_config_key_names_deployment_key_and_problem(tmp_path: Path) -> None:
    path = _config(tmp_path, lambda c: _deployment(c, "Ingress")["user_config"].update(no_such_key=1))
    with pytest.raises(ConfigError) as caught:
        check_config(path)
    message = str(caught.value)
    assert "\n" not in message
    assert "deployment Ingress user_config: no_such_key: Extra inputs are not permitted" in message


def test_an_out_of_range_value_is_reported_with_its_path(tmp_path: Path) -> None:
    path = _config(tmp_path, lambda c: _deployment(c, "VLM")["user_config"].update(max_batch_size=0))
    with pytest.raises(ConfigError, match=r"deployment VLM user_config: max_batch_size: Input should be greater"):
        check_config(path)


def test_bad_args_unknown_deployments_and_serve_schema_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"args: engine\.dtyp: Extra inputs"):
        check_config(_config(tmp_path, lambda c: c["applications"][0]["args"]["engine"].update(dtyp="x")))
    with pytest.raises(ConfigError, match="unknown deployment 'Ingres'"):
        check_config(_config(tmp_path, lambda c: c["applications"][0]["deployments"].append({"name": "Ingres"})))
    with pytest.raises(ConfigError, match="Serve schema"):
        check_config(_config(tmp_path, lambda c: c["http_options"].update(port="eighty")))


def test_a_missing_or_broken_policy_file_is_caught(tmp_path: Path) -> None:
    def use_policy(config: dict, path: str) -> None:
        _deployment(config, "PolicyFilter")["user_config"]["policy_file"] = path

    with pytest.raises(ConfigError, match=r"no such file /nope\.yaml"):
        check_config(_config(tmp_path, lambda c: use_policy(c, "/nope.yaml")))
    broken = tmp_path / "policy.yaml"
    (tmp_path / "lexicons").symlink_to(ROOT / "configs" / "lexicons")  # its term files, found beside it
    policy = yaml.safe_load((ROOT / "configs" / "policy.yaml").read_text())
    policy["categories"]["spam"]["input"] = "explode"
    broken.write_text(yaml.safe_dump(policy, allow_unicode=True))
    path = _config(tmp_path, lambda c: use_policy(c, str(broken)))
    with pytest.raises(ConfigError, match=r"categories\.spam\.input"):
        check_config(path)


def test_unreadable_yaml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "serve.yaml"
    path.write_text("applications: [\n")
    with pytest.raises(ConfigError, match="cannot read the config"):
        check_config(path)


def test_a_key_source_without_keys_is_caught_before_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QVS_NO_SUCH_KEYS", raising=False)
    path = _config(tmp_path, lambda c: _deployment(c, "Ingress")["user_config"].update(api_key_env="QVS_NO_SUCH_KEYS"))
    with pytest.raises(ConfigError, match=r"Ingress: api_key_env names 'QVS_NO_SUCH_KEYS', which is unset or empty"):
        check_config(path)


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::", "qvs.example.com"])
def test_a_keyless_service_on_a_reachable_address_needs_allow_unauthenticated(
    tmp_path: Path, host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_door = _config(tmp_path, lambda c: c.setdefault("http_options", {}).update(host=host))
    with pytest.raises(ConfigError, match="reachable from other machines and no API key is configured"):
        check_config(open_door)

    def chosen(config: dict) -> None:
        config.setdefault("http_options", {}).update(host=host)
        _deployment(config, "Ingress")["user_config"].update(allow_unauthenticated=True)

    assert check_config(_config(tmp_path, chosen))
    monkeypatch.setenv("QVS_SOME_KEYS", "k1")

    def with_keys(config: dict) -> None:
        config.setdefault("http_options", {}).update(host=host)
        _deployment(config, "Ingress")["user_config"].update(api_key_env="QVS_SOME_KEYS")

    assert check_config(_config(tmp_path, with_keys))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_needs_no_key(tmp_path: Path, host: str) -> None:
    assert check_config(_config(tmp_path, lambda c: c.setdefault("http_options", {}).update(host=host)))


def test_launch_overrides_reach_the_ingress_settings_serve_would_use(monkeypatch: pytest.MonkeyPatch) -> None:
    from serve_app.ops.launch import effective_config, ingress_overrides

    config = yaml.safe_load((ROOT / "configs" / "cpu.yaml").read_text())
    overrides = ingress_overrides(["api_key_env=QVS_SOME_KEYS", "allow_unauthenticated=false"])
    assert overrides == {"api_key_env": "QVS_SOME_KEYS", "allow_unauthenticated": False}
    public = effective_config(config, "0.0.0.0", overrides)
    assert public["http_options"]["host"] == "0.0.0.0" and config["http_options"]["host"] == "127.0.0.1"
    assert _deployment(public, "Ingress")["user_config"]["api_key_env"] == "QVS_SOME_KEYS"
    del _deployment(config, "Ingress")["user_config"]  # then Serve applies args.ingress: so does the override
    assert effective_config(config, None, overrides)["applications"][0]["args"]["ingress"] == overrides
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        ingress_overrides(["api_key_env"])


def test_a_reachable_launch_override_without_keys_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from serve_app.ops.launch import effective_config

    monkeypatch.chdir(ROOT)
    config = effective_config(yaml.safe_load((ROOT / "configs" / "cpu.yaml").read_text()), "0.0.0.0", {})
    with pytest.raises(ConfigError, match="reachable from other machines and no API key is configured"):
        check_config_data(config, "configs/cpu.yaml")


@pytest.mark.parametrize(
    ("section", "setting", "field"),
    [
        ("audit", {"digest_key_env": "QVS_NO_SUCH_SECRET"}, "digest_key_env"),
        ("audit", {"password_env": "QVS_NO_SUCH_SECRET"}, "password_env"),
        (
            "cache",
            {"backend": "redis", "redis_url": "redis://127.0.0.1:1/0", "signing_key_env": "QVS_NO_SUCH_SECRET"},
            "signing_key_env",
        ),
    ],
)
def test_an_empty_audit_or_cache_secret_source_is_caught_before_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, section: str, setting: dict, field: str
) -> None:
    monkeypatch.delenv("QVS_NO_SUCH_SECRET", raising=False)
    path = _config(tmp_path, lambda c: c["applications"][0]["args"].setdefault(section, {}).update(setting))
    with pytest.raises(ConfigError, match=rf"args: {field} names 'QVS_NO_SUCH_SECRET', which is unset or empty"):
        check_config(path)
