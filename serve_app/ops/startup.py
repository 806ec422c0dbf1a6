"""Watch a deployment start: ready when every application runs, failed (with one readable line) as
soon as a replica fails to start.

Serve retries a replica whose constructor raised (``3 x replicas`` times, then ``DEPLOY_FAILED``) and
keeps the cluster up either way. At launch, nothing has started yet and a constructor error is
almost always deterministic (a config value, a missing model), so the first failure ends the launch
with an exit code and a line naming the deployment and the error, instead of minutes of retries and
a log that repeats a traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # importing Ray reads RAY_AUTH_MODE: the launcher sets it first
    from ray.serve.schema import ServeStatus

Phase = Literal["starting", "ready", "failed"]

_FAILED = "DEPLOY_FAILED"  # ApplicationStatus and DeploymentStatus spell it the same
_REPLICA_FAILED = "A replica failed to start"  # the start of Serve's message while it retries
# "pkg.module.SomeError: text" or "SomeError: text": the line a Python traceback ends with
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?([A-Z]\w*(?:Error|Exception|Exit|Interrupt))(?::\s*(.*))?$")
_PYDANTIC_NOISE = re.compile(r"\s*\[type=[^\]]*\]|^\s*For further information visit .*$")


@dataclass(frozen=True)
class StartupState:
    phase: Phase
    detail: str = ""


def assess(status: ServeStatus, apps: list[str]) -> StartupState:
    """Where the start of ``apps`` stands, from one ``serve.status()``."""
    for name in apps:
        app = status.applications.get(name)
        if app is None:
            continue
        for deployment_name, deployment in app.deployments.items():
            if str(_value(deployment.status)) == _FAILED or (deployment.message or "").startswith(_REPLICA_FAILED):
                return StartupState(
                    "failed", f"deployment {deployment_name} of {name}: {summarize(deployment.message)}"
                )
        if str(_value(app.status)) == _FAILED:
            return StartupState("failed", f"application {name}: {summarize(app.message)}")
    running = all(
        name in status.applications and str(_value(status.applications[name].status)) == "RUNNING" for name in apps
    )
    return StartupState("ready" if running else "starting")


def summarize(message: str) -> str:
    """The exception a traceback ends with, on one line (a pydantic error keeps its field and text)."""
    lines = [line.rstrip() for line in (message or "").splitlines()]
    for index in range(len(lines) - 1, -1, -1):
        match = _EXCEPTION_LINE.match(lines[index].strip())
        if match is None:
            continue
        tail = [_PYDANTIC_NOISE.sub("", line).strip() for line in lines[index + 1 :]]
        parts = [match.group(2) or "", *[t for t in tail if t]]
        body = ": ".join(p for p in parts if p)
        return f"{match.group(1)}: {body}" if body else match.group(1)
    text = " ".join(line.strip() for line in lines if line.strip())
    return text[:500] or "no message from Serve"


def _value(status: object) -> object:
    return getattr(status, "value", status)
