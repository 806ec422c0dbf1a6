"""Start a local Ray head bound to loopback with Ray's Prometheus endpoint on a fixed port, then
``serve run`` a config on it; on Ctrl-C or SIGTERM drain in-flight requests (serve_app/ops/shutdown.py),
then stop everything this launch started. What ``make serve``, the container and the end-to-end tests run.

Decisions:

* The config is checked completely before anything starts (serve_app/ops/preflight.py): a typo fails
  in a second with one line, not as a replica that Serve retries forever.
* One token for the whole cluster (serve_app/ops/ray_auth.py), created on first use, handed to
  ``ray start``, ``serve run`` and this process's driver.
* Everything this launch starts carries ``QVS_LAUNCH_ID`` in its environment, and every exit path
  (a failed start, a ``serve run`` that exits, a deployment Serve gives up on, a signal at any time)
  ends with those processes stopped, and only those (serve_app/ops/processes.py).
* A signal during start-up stops at once; after start-up, the first one drains, a second one stops
  at once.

* ``--host`` and ``--ingress KEY=VALUE`` override the config's ``http_options.host`` and the Ingress
  settings for this launch (the container binds 0.0.0.0 and names its key variables this way); the
  preflight checks the config as overridden, so a reachable bind without keys never starts.

``serve run CONFIG`` alone would start Ray with a random metrics port; Prometheus needs a fixed one.
Ray binds its metrics endpoint and internal ports to the node's address (all interfaces here, as
Ray 2.60 does not honour a loopback node address): keep them behind a firewall; only the dashboard
is bound to 127.0.0.1.

Usage: ``python -m serve_app.ops.launch configs/cpu.yaml [--metrics-port 8080] [--dashboard-port 8265]
[--host 0.0.0.0] [--ingress api_key_env=QVS_API_KEYS ...]``
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import yaml

from pipelines.core.paths import project_root
from serve_app.api.edge import PROXY_CALLBACK, PROXY_CALLBACK_ENV
from serve_app.ops.preflight import APP_IMPORT_PATH, ConfigError, check_config_data, read_config
from serve_app.ops.processes import (
    LAUNCH_ID_ENV,
    become_subreaper,
    descendants,
    marked_processes,
    new_launch_id,
    reap_adopted,
    terminate,
)
from serve_app.ops.ray_auth import TokenError, resolve_token
from serve_app.ops.shutdown import DEFAULT_TIMEOUT_S, connect, drain_and_shutdown
from serve_app.ops.startup import assess

BIN = Path(sys.executable).parent
DEFAULT_METRICS_PORT = 8080
DEFAULT_DASHBOARD_PORT = 8265
STATUS_POLL_S = 0.5
PROBE_TIMEOUT_S = 2.0
SERVE_EXIT_GRACE_S = 30.0  # serve run shuts Serve down on SIGINT; beyond this it is killed
KILL_GRACE_S = 10.0  # SIGTERM -> SIGKILL for what is left of the cluster after a drained stop
ABORT_GRACE_S = 2.0  # the same when start-up was interrupted: nothing to drain, stop at once


class StartupInterrupted(Exception):
    """A signal arrived before the service was ready: stop at once, nothing to drain."""


def proxy_callback_env(environ: Mapping[str, str]) -> dict[str, str]:
    """Serve's proxy runs serve_app/api/edge.py, so a client's ``x-request-id`` is never its request id."""
    current = environ.get(PROXY_CALLBACK_ENV) or PROXY_CALLBACK
    if current != PROXY_CALLBACK:
        raise ConfigError(
            f"{PROXY_CALLBACK_ENV}={current} would replace {PROXY_CALLBACK}, which keeps client request ids "
            "out of Serve's proxy: unset it"
        )
    return {PROXY_CALLBACK_ENV: PROXY_CALLBACK}


def ray_start_command(metrics_port: int, dashboard_port: int) -> list[str]:
    return [
        str(BIN / "ray"),
        "start",
        "--head",
        "--dashboard-host=127.0.0.1",  # the dashboard can deploy code: loopback only
        f"--dashboard-port={dashboard_port}",
        f"--metrics-export-port={metrics_port}",
        "--disable-usage-stats",
    ]


def serve_run_command(config: str) -> list[str]:
    return [str(BIN / "serve"), "run", "--address=auto", config]


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _log(message: str) -> None:
    now = time.time()
    print(f"{time.strftime('%H:%M:%S', time.localtime(now))}.{int(now % 1 * 1000):03d} {message}", flush=True)


def _fail(message: str) -> int:
    print(f"qwen-vl-serve: {message}", file=sys.stderr, flush=True)
    return 1


@dataclass(eq=False)
class Launch:
    """One launch: its environment, the processes it started, and its stop."""

    args: argparse.Namespace
    apps: list[str]
    env: dict[str, str]
    ready_url: str
    config_path: str
    serve: subprocess.Popen[bytes] | None = field(default=None, init=False)
    connected: bool = field(default=False, init=False)
    starting: bool = field(default=True, init=False)
    signals: int = field(default=0, init=False)
    stop: threading.Event = field(default_factory=threading.Event, init=False)

    def __post_init__(self) -> None:
        self.launch_id = self.env[LAUNCH_ID_ENV]

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1
        _log(f"got {signal.Signals(signum).name}")
        if self.starting:
            raise StartupInterrupted
        if self.signals > 1 and self.serve is not None and self.serve.poll() is None:
            self.serve.send_signal(signal.SIGINT)  # a second Ctrl-C: stop now, cutting what is in flight
        self.stop.set()

    def install_signals(self) -> None:
        signal.signal(signal.SIGINT, self.on_signal)
        signal.signal(signal.SIGTERM, self.on_signal)

    def run(self) -> int:
        become_subreaper()
        self.install_signals()
        grace_s = KILL_GRACE_S
        try:
            return self._run()
        except StartupInterrupted:
            _log("interrupted during start-up: stopping")
            grace_s = ABORT_GRACE_S
            return 130
        finally:
            self.cleanup(grace_s)

    def _run(self) -> int:
        # Ray and serve run get sessions of their own: a terminal's Ctrl-C (sent to the whole foreground
        # process group) then reaches only this process, which drains before anything is stopped.
        started = subprocess.run(
            ray_start_command(self.args.metrics_port, self.args.dashboard_port), env=self.env, start_new_session=True
        )
        if started.returncode != 0:
            return _fail(f"`ray start` failed with exit code {started.returncode} (its output is above)")
        print(f"Ray metrics (Prometheus): http://127.0.0.1:{self.args.metrics_port}/metrics", flush=True)
        # A shell that starts us in the background ignores SIGINT, and children inherit that; serve run
        # must get the default handling back so that the SIGINT sent at the stop shuts it down.
        self.serve = subprocess.Popen(
            serve_run_command(self.config_path), env=self.env, preexec_fn=_default_signals, start_new_session=True
        )
        # Connected before any stop, so that a stop starts draining at once (~0.5 s, not the seconds a
        # fresh driver takes to import Ray and connect on a loaded machine).
        connect()
        self.connected = True
        self.install_signals()  # ray.init installs its own
        failure = self.wait_until_ready()
        if failure is not None:
            return _fail(failure)
        self.starting = False
        _log(f"ready: {', '.join(self.apps)}")
        while self.serve.poll() is None and not self.stop.wait(0.5):
            reap_adopted(keep={self.serve.pid})
        if self.serve.poll() is not None:
            return _fail(f"`serve run` exited with code {self.serve.returncode}")
        _log("stopping: draining in-flight requests (Ctrl-C again to stop at once)")
        try:
            drain_and_shutdown(self.args.drain_timeout_s, log=_log, give_up=lambda: self.signals > 1)
        except Exception:  # noqa: BLE001 - a failed drain must still stop the service
            traceback.print_exc()
        return self.stop_serve()

    def wait_until_ready(self) -> str | None:
        """None once the service is ready (every application runs, or its /readyz answers 200: Serve's
        status can lag what clients already see, and from then on a stop must drain); else why the
        start failed."""
        from ray import serve

        assert self.serve is not None
        while True:
            if self.serve.poll() is not None:
                return f"`serve run` exited with code {self.serve.returncode} during start-up (its output is above)"
            state = assess(serve.status(), self.apps)
            if state.phase == "ready" or (state.phase == "starting" and self.answers_ready()):
                return None
            if state.phase == "failed":
                return f"start-up failed: {state.detail}"
            reap_adopted(keep={self.serve.pid})
            time.sleep(STATUS_POLL_S)

    def answers_ready(self) -> bool:
        try:
            return httpx.get(self.ready_url, timeout=PROBE_TIMEOUT_S).status_code == 200
        except httpx.HTTPError:
            return False

    def stop_serve(self) -> int:
        if self.serve is None:
            return 0
        if self.serve.poll() is None:
            self.serve.send_signal(signal.SIGINT)
        try:
            return self.serve.wait(timeout=SERVE_EXIT_GRACE_S)
        except subprocess.TimeoutExpired:
            self.serve.kill()
            return self.serve.wait()

    def cleanup(self, grace_s: float) -> None:
        """Whatever happened, nothing this launch started outlives it."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the cleanup itself is not interruptible
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if self.serve is not None and self.serve.poll() is None:
            self.serve.kill()
            self.serve.wait()
        if self.connected:
            import ray

            ray.shutdown()
        left = list({p.pid: p for p in [*descendants(), *marked_processes(LAUNCH_ID_ENV, self.launch_id)]}.values())
        if left:
            killed = terminate(left, grace_s)
            _log(f"stopped {len(left)} processes of this launch" + (f" ({len(killed)} killed)" if killed else ""))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="Serve config file, e.g. configs/serve.yaml")
    parser.add_argument("--metrics-port", type=int, default=DEFAULT_METRICS_PORT, help="Prometheus scrape port")
    parser.add_argument("--dashboard-port", type=int, default=DEFAULT_DASHBOARD_PORT)
    parser.add_argument(
        "--drain-timeout-s", type=float, default=DEFAULT_TIMEOUT_S, help="longest wait for in-flight requests"
    )
    parser.add_argument("--host", help="http_options.host for this launch, e.g. 0.0.0.0 (needs keys, or allow_...)")
    parser.add_argument(
        "--ingress",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an Ingress user_config setting for this launch (VALUE is YAML), e.g. api_key_env=QVS_API_KEYS",
    )
    return parser.parse_args(argv)


def ingress_overrides(assignments: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as settings; VALUE is read as YAML (``true``, ``null``, numbers)."""
    overrides: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--ingress {assignment!r}: expected KEY=VALUE")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def effective_config(config: dict[str, Any], host: str | None, ingress: dict[str, Any]) -> dict[str, Any]:
    """``config`` with this launch's overrides: ``http_options.host``, and ``ingress`` merged into each of
    our applications' Ingress settings where they come from (its ``user_config`` if the file gives one,
    else ``args.ingress``, as Serve would apply them)."""
    config = copy.deepcopy(config)
    if host is not None:
        config.setdefault("http_options", {})["host"] = host
    ours = [app for app in config.get("applications") or [] if app.get("import_path") == APP_IMPORT_PATH]
    for app in ours if ingress else []:
        deployment = next((d for d in app.get("deployments") or [] if d.get("name") == "Ingress"), None)
        if deployment is not None and deployment.get("user_config") is not None:
            deployment["user_config"].update(ingress)
        else:
            app.setdefault("args", {}).setdefault("ingress", {}).update(ingress)
    return config


def write_config(config: dict[str, Any]) -> str:
    """The effective config as a file for ``serve run`` (paths in it resolve from QVS_HOME, not from it)."""
    path = Path(tempfile.mkdtemp(prefix="qvs-launch-")) / "serve.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return str(path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        token = resolve_token(create=True)
        # before anything imports Ray, which reads the auth mode once: this process's driver (connect)
        # uses the same token as the cluster
        os.environ.update(token.environ())
        overrides = ingress_overrides(args.ingress)
        config = effective_config(read_config(args.config), args.host, overrides)
        check_config_data(config, args.config)
        proxy_env = proxy_callback_env(os.environ)
    except (ConfigError, TokenError) as exc:
        return _fail(str(exc))
    overridden = args.host is not None or bool(overrides)
    config_path = write_config(config) if overridden else args.config
    apps = [app["name"] for app in config.get("applications") or []]
    env = {**os.environ, **proxy_env, LAUNCH_ID_ENV: new_launch_id(), "QVS_HOME": str(project_root())}
    _log(f"Ray token: {token.describe()}")
    try:
        return Launch(args, apps, env, readiness_url(config), config_path).run()
    finally:
        if overridden:
            shutil.rmtree(Path(config_path).parent, ignore_errors=True)


def readiness_url(config: dict) -> str:
    """Where this config's /readyz answers, as a local client reaches it."""
    http = config.get("http_options") or {}
    host = http.get("host") or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{host}:{http.get('port') or 8000}/readyz"


if __name__ == "__main__":
    sys.exit(main())
