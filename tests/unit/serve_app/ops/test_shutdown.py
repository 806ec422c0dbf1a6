"""The drain's config surgery on the shape Serve's ``get_serve_details()`` returns (recorded from
a running Ray 2.60 service; the end-to-end stop test runs the whole drain against the real one)."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from ray.serve.schema import ServeDeploySchema

from serve_app.config import IngressUserConfig
from serve_app.ops import shutdown

ROOT = Path(__file__).resolve().parents[4]


def _details(config_file: str = "cpu.yaml", status: str = "DeploymentStatus.HEALTHY") -> dict:
    """Serve details for a config as deployed: each app's config, its deployments and replicas."""
    config = yaml.safe_load((ROOT / "configs" / config_file).read_text())
    apps = {}
    for app in config["applications"]:
        deployments = {
            d["name"]: {
                "status": status,
                "deployment_config": {"user_config": copy.deepcopy(d.get("user_config"))},
                "replicas": [{"actor_name": f"SERVE_REPLICA::{app['name']}#{d['name']}#abc", "state": "RUNNING"}],
            }
            for d in app["deployments"]
        }
        apps[app["name"]] = {
            "deployed_app_config": app,
            "deployments": deployments,
            "deployment_topology": {"ingress_deployment": "Ingress"},
        }
    return {"proxy_location": config["proxy_location"], "http_options": config["http_options"], "applications": apps}


def test_draining_config_sets_draining_on_every_ingress_and_changes_nothing_else() -> None:
    details = _details("canary.yaml")
    before = copy.deepcopy(details)
    config = shutdown.draining_config(details)
    assert config is not None
    ServeDeploySchema.model_validate(config)  # what deploy_apps gets
    assert details == before  # the running config is not modified in place
    assert len(config["applications"]) == 2  # every app redeployed: one left out would be deleted
    for app, original in zip(config["applications"], before["applications"].values(), strict=True):
        for deployment, was in zip(app["deployments"], original["deployed_app_config"]["deployments"], strict=True):
            if deployment["name"] == "Ingress":
                assert deployment["user_config"] == {**(was.get("user_config") or {}), "draining": True}
                assert IngressUserConfig.model_validate(deployment["user_config"]).draining
            else:
                assert deployment == was  # other deployments keep their config: no restart


def test_an_app_whose_ingress_is_not_ours_is_redeployed_unchanged_and_not_waited_for() -> None:
    details = _details()
    caption = {"name": "caption", "import_path": "examples.caption_moderate:app", "route_prefix": "/example"}
    details["applications"]["caption"] = {
        "deployed_app_config": caption,
        "deployments": {"CaptionModerate": {"status": "DeploymentStatus.HEALTHY", "replicas": []}},
        "deployment_topology": {"ingress_deployment": "CaptionModerate"},
    }
    config = shutdown.draining_config(details)
    assert config is not None and config["applications"][1] == caption
    details["applications"]["qwen-vl"]["deployments"]["Ingress"]["deployment_config"]["user_config"]["draining"] = True
    assert shutdown.draining_applied(details)


def test_an_app_deployed_from_code_is_not_redeployed() -> None:
    details = _details()
    details["applications"]["from-code"] = {"deployed_app_config": None, "deployments": {}}
    assert shutdown.draining_config(details) is None


def test_draining_counts_as_applied_only_when_every_ingress_reconfigured_and_healthy() -> None:
    assert not shutdown.draining_applied(_details())
    config = shutdown.draining_config(_details())
    assert config is not None
    applied = _details()
    applied["applications"]["qwen-vl"]["deployments"]["Ingress"]["deployment_config"]["user_config"]["draining"] = True
    assert shutdown.draining_applied(applied)
    applied["applications"]["qwen-vl"]["deployments"]["Ingress"]["status"] = "DeploymentStatus.UPDATING"
    assert not shutdown.draining_applied(applied)


def test_only_ingress_replicas_are_watched() -> None:
    assert shutdown.ingress_replica_actors(_details()) == ["SERVE_REPLICA::qwen-vl#Ingress#abc"]


def test_configs_let_a_stopping_replica_finish_every_request_and_the_drain_outlasts_them() -> None:
    for name in ("serve.yaml", "cpu.yaml", "canary.yaml"):
        config = yaml.safe_load((ROOT / "configs" / name).read_text())
        request_timeout_s = config["http_options"]["request_timeout_s"]
        for app in config["applications"]:
            for deployment in app["deployments"]:
                assert deployment["graceful_shutdown_timeout_s"] >= request_timeout_s, (name, deployment["name"])
                assert deployment["graceful_shutdown_timeout_s"] < shutdown.DEFAULT_TIMEOUT_S
