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

import yaml

from serve_app.ops.launch import DEFAULT_METRICS_PORT

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instruction(name: str) -> list[str]:
    """Every instruction ``name`` with its continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line[len(name) :].strip() for line in joined.splitlines() if line.startswith(name + " ")]


def test_cmd_serves_the_production_config_through_the_launcher() -> None:
    (cmd,) = instruction("CMD")
    argv = json.loads(cmd)
    assert argv[:3] == ["python", "-m", "serve_app.ops.launch"]
    config = ROOT / argv[3]
    assert config == ROOT / "configs" / "serve.yaml" and config.exists()
    assert argv[argv.index("--metrics-port") + 1] == str(DEFAULT_METRICS_PORT)
    serve_config = yaml.safe_load(config.read_text())
    assert serve_config["applications"][0]["import_path"] == "serve_app.app:build_app"


def test_exposed_ports_are_the_api_and_metrics_ports() -> None:
    (expose,) = instruction("EXPOSE")
    http_port = yaml.safe_load((ROOT / "configs" / "serve.yaml").read_text())["http_options"]["port"]
    assert set(expose.split()) == {str(http_port), str(DEFAULT_METRICS_PORT)}


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
