"""The shipped Serve configs are valid Serve configs whose `args` are valid application args."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from pipelines.engine.vlm import EngineConfig
from serve_app.config import AppArgs

ROOT = Path(__file__).resolve().parents[4]


@pytest.mark.parametrize("name", ["serve.yaml", "cpu.yaml", "canary.yaml"])
def test_config_is_a_valid_serve_config_with_valid_args(name: str) -> None:
    config = yaml.safe_load((ROOT / "configs" / name).read_text())
    schema = (
        ServeDeploySchema.model_validate(config)
        if hasattr(ServeDeploySchema, "model_validate")
        else ServeDeploySchema.parse_obj(config)
    )  # type: ignore[attr-defined]
    assert schema.http_options.host == "127.0.0.1"
    for app in config["applications"]:
        AppArgs.model_validate(app["args"])
        deployments = {d["name"] for d in app["deployments"]}
        assert deployments <= {"Ingress", "Validator", "VLM", "PolicyFilter", "ImageScreen"}


def test_canary_runs_two_model_versions_on_two_routes() -> None:
    config = yaml.safe_load((ROOT / "configs" / "canary.yaml").read_text())
    stable, canary = config["applications"]
    assert (stable["route_prefix"], canary["route_prefix"]) == ("/", "/canary")
    versions = {EngineConfig.model_validate(app["args"]["engine"]).version for app in (stable, canary)}
    assert len(versions) == 2  # each answers with its own x-qvs-version
    assert stable["args"]["audit"]["url"] == canary["args"]["audit"]["url"]
    assert stable["args"]["audit"]["journal_dir"] != canary["args"]["audit"]["journal_dir"]
