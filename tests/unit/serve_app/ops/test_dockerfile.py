"""The container image agrees with the code: entrypoint, ports, config path, health check, versions.
Docker cannot run where this project is built; this is what can be checked without it."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from serve_app.ops import launch
from serve_app.ops.launch import DEFAULT_METRICS_PORT, effective_config, ingress_overrides, parse_args
from serve_app.ops.preflight import ConfigError, check_config_data, read_config
from serve_app.ops.ray_auth import AUTH_MODE_ENV, TOKEN_ENV

ROOT = Path(__file__).resolve().parents[4]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instruction(name: str) -> list[str]:
    """Every instruction ``name`` with its continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line[len(name) :].strip() for line in joined.splitlines() if line.startswith(name + " ")]


KEY_VARIABLES = {"api_key_env": "QVS_API_KEYS", "admin_api_key_env": "QVS_ADMIN_API_KEYS"}


def container_argv() -> list[str]:
    (cmd,) = instruction("CMD")
    return json.loads(cmd)


def container_config() -> dict:
    """The config the image's command serves: configs/serve.yaml with the command's overrides."""
    args = parse_args(container_argv()[3:])
    return effective_config(read_config(ROOT / args.config), args.host, ingress_overrides(args.ingress))


def ingress_settings(config: dict) -> dict:
    return next(d for d in config["applications"][0]["deployments"] if d["name"] == "Ingress")["user_config"]


def test_cmd_serves_the_production_config_through_the_launcher() -> None:
    argv = container_argv()
    assert argv[:3] == ["python", "-m", "serve_app.ops.launch"]
    config = ROOT / argv[3]
    assert config == ROOT / "configs" / "serve.yaml" and config.exists()
    assert argv[argv.index("--metrics-port") + 1] == str(DEFAULT_METRICS_PORT)
    serve_config = yaml.safe_load(config.read_text())
    assert serve_config["applications"][0]["import_path"] == "serve_app.app:build_app"


def test_the_container_serves_on_every_interface_with_caller_and_admin_keys_named() -> None:
    config = container_config()
    assert config["http_options"]["host"] == "0.0.0.0"
    assert yaml.safe_load((ROOT / "configs" / "serve.yaml").read_text())["http_options"]["host"] == "127.0.0.1"
    settings = ingress_settings(config)
    assert {k: settings[k] for k in KEY_VARIABLES} == KEY_VARIABLES
    assert not settings.get("allow_unauthenticated")


def test_the_container_refuses_to_start_without_both_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    for variable in KEY_VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(ConfigError, match="api_key_env names 'QVS_API_KEYS', which is unset or empty"):
        check_config_data(container_config(), "configs/serve.yaml")
    monkeypatch.setenv("QVS_API_KEYS", "caller-key")
    with pytest.raises(ConfigError, match="admin_api_key_env names 'QVS_ADMIN_API_KEYS'"):
        check_config_data(container_config(), "configs/serve.yaml")
    monkeypatch.setenv("QVS_ADMIN_API_KEYS", "admin-key")
    assert check_config_data(container_config(), "configs/serve.yaml")


def test_the_container_command_exits_before_starting_anything_without_keys(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv(TOKEN_ENV, "test-token")  # no token file is created; main() exports these two
    monkeypatch.setenv(AUTH_MODE_ENV, "token")
    for variable in KEY_VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    started: list[str] = []
    monkeypatch.setattr(launch.Launch, "run", lambda self: started.append(self.config_path) or 0)
    assert launch.main(container_argv()[3:]) == 1 and started == []
    assert "QVS_API_KEYS" in capsys.readouterr().err
    monkeypatch.setenv("QVS_API_KEYS", "caller-key")
    monkeypatch.setenv("QVS_ADMIN_API_KEYS", "admin-key")
    assert launch.main(container_argv()[3:]) == 0
    (served,) = started
    assert not Path(served).exists()  # the effective config lives only as long as the launch
    assert served != str(ROOT / "configs" / "serve.yaml")


def test_only_the_api_port_is_exposed_metrics_stay_internal() -> None:
    (expose,) = instruction("EXPOSE")
    http_port = yaml.safe_load((ROOT / "configs" / "serve.yaml").read_text())["http_options"]["port"]
    assert expose.split() == [str(http_port)]
    assert str(DEFAULT_METRICS_PORT) not in expose.split()


def test_healthcheck_probes_the_readiness_route() -> None:
    (check,) = instruction("HEALTHCHECK")
    http_port = yaml.safe_load((ROOT / "configs" / "serve.yaml").read_text())["http_options"]["port"]
    assert f"http://127.0.0.1:{http_port}/readyz" in check
    from serve_app.api.gateway import Gateway
    from serve_app.api.routes import create_app
    from tests.unit.serve_app.fakes import FakeModel, FakePolicy, FakeValidator

    gateway = Gateway(
        validator=FakeValidator(), model=FakeModel(), policy=FakePolicy(), model_name="m", moderation_model="p"
    )
    assert "/readyz" in create_app(gateway).openapi()["paths"]


def test_base_image_matches_pinned_ray_and_python_and_user_is_not_root() -> None:
    *stages, base = instruction("FROM")  # the final stage is the image
    assert [stage.split()[-1] for stage in stages] == ["nsfwjs"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    ray_pin = next(d for d in project["dependencies"] if d.startswith("ray[serve]=="))
    assert base == f"rayproject/ray:{ray_pin.split('==')[1]}-py{sys.version_info.major}{sys.version_info.minor}-gpu"
    (user,) = instruction("USER")
    assert user not in ("root", "0")
    for source in [shlex.split(c)[-2] for c in instruction("COPY") if "requirements" not in c and "--from=" not in c]:
        assert (ROOT / source).exists(), source


def test_the_nsfwjs_stage_fetches_the_pinned_package_the_converter_checks() -> None:
    from pipelines.moderation.images.nsfw_convert import NSFWJS_VERSION

    assert f"npm pack nsfwjs@{NSFWJS_VERSION}" in " ".join(instruction("RUN"))
    copied = [c for c in instruction("COPY") if c.startswith("--from=nsfwjs")]
    assert copied and copied[0].endswith(f".cache/nsfwjs/nsfwjs-{NSFWJS_VERSION}.tgz")
    assert any("nsfw_convert convert" in run for run in instruction("RUN"))


def test_gpu_extra_and_gpu_lock_agree() -> None:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["gpu"]
    locked = (ROOT / "requirements-gpu.lock").read_text().split()
    assert next(d for d in extra if d.startswith("bitsandbytes")) in locked


def test_hadolint_passes() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    done = subprocess.run([str(hadolint), str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
