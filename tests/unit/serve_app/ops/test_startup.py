"""Reading Serve's status during start-up: ready, still starting, or failed with a readable line."""

from __future__ import annotations

from ray.serve.schema import ApplicationStatusOverview, DeploymentStatusOverview, ServeStatus

from serve_app.ops.startup import assess, summarize

TRACEBACK = """The deployment failed to start 3 times in a row. This may be due to a problem with its
constructor or initial health check failing. See controller logs for details. Error:
Traceback (most recent call last):
  File "/x/replica.py", line 1, in reconfigure
    self.settings = IngressUserConfig.model_validate(user_config)
pydantic_core._pydantic_core.ValidationError: 1 validation error for IngressUserConfig
no_such_key
  Extra inputs are not permitted [type=extra_forbidden, input_value=1, input_type=int]
    For further information visit https://errors.pydantic.dev/2/v/extra_forbidden
"""


def _status(app: str, deployments: dict[str, tuple[str, str]]) -> ServeStatus:
    overview = {
        name: DeploymentStatusOverview(status=s, status_trigger="CONFIG_UPDATE_STARTED", replica_states={}, message=m)
        for name, (s, m) in deployments.items()
    }
    states = {s for s, _ in deployments.values()}
    status = "DEPLOY_FAILED" if "DEPLOY_FAILED" in states else "RUNNING" if states == {"HEALTHY"} else "DEPLOYING"
    return ServeStatus(
        applications={
            app: ApplicationStatusOverview(status=status, message="", last_deployed_time_s=0, deployments=overview)
        }
    )


def test_no_application_yet_is_starting() -> None:
    assert assess(ServeStatus(), ["qwen-vl"]).phase == "starting"


def test_all_running_is_ready_and_a_partial_start_is_not() -> None:
    assert (
        assess(_status("qwen-vl", {"Ingress": ("HEALTHY", ""), "VLM": ("HEALTHY", "")}), ["qwen-vl"]).phase == "ready"
    )
    assert (
        assess(_status("qwen-vl", {"Ingress": ("HEALTHY", ""), "VLM": ("UPDATING", "")}), ["qwen-vl"]).phase
        == "starting"
    )
    assert assess(_status("qwen-vl", {"Ingress": ("HEALTHY", "")}), ["qwen-vl", "caption"]).phase == "starting"


def test_a_failed_deployment_is_named_with_its_error_on_one_line() -> None:
    state = assess(_status("qwen-vl", {"Ingress": ("DEPLOY_FAILED", TRACEBACK), "VLM": ("HEALTHY", "")}), ["qwen-vl"])
    assert state.phase == "failed"
    assert state.detail == (
        "deployment Ingress of qwen-vl: ValidationError: 1 validation error for IngressUserConfig: no_such_key: "
        "Extra inputs are not permitted"
    )


def test_summarize_keeps_the_last_exception_and_falls_back_to_the_text() -> None:
    assert summarize("Traceback:\n  x\nFileNotFoundError: [Errno 2] nope") == "FileNotFoundError: [Errno 2] nope"
    assert summarize("replica died") == "replica died"
    assert summarize("") == "no message from Serve"


def test_the_first_replica_that_fails_to_start_fails_the_start() -> None:
    retrying = "A replica failed to start with exception. Retrying 2 more time(s). Error:\n" + TRACEBACK
    state = assess(_status("qwen-vl", {"Ingress": ("UPDATING", retrying), "VLM": ("HEALTHY", "")}), ["qwen-vl"])
    assert state.phase == "failed" and state.detail.startswith("deployment Ingress of qwen-vl: ValidationError")


def test_the_launcher_probes_readiness_where_a_local_client_would() -> None:
    from serve_app.ops.launch import readiness_url

    assert readiness_url({"http_options": {"host": "0.0.0.0", "port": 8001}}) == "http://127.0.0.1:8001/readyz"
    assert readiness_url({"http_options": {"host": "127.0.0.1", "port": 8000}}) == "http://127.0.0.1:8000/readyz"
