"""Start a local Ray head bound to loopback with Ray's Prometheus endpoint on a fixed port, then
``serve run`` a config on it; on Ctrl-C or SIGTERM drain in-flight requests (serve_app/ops/shutdown.py),
then stop both. What ``make serve``, the container and the end-to-end tests run.

``serve run CONFIG`` alone would start Ray with a random metrics port; Prometheus needs a fixed one.
Ray binds its metrics endpoint and internal ports to the node's address (all interfaces here, as
Ray 2.60 does not honour a loopback node address): keep them behind a firewall; only the dashboard
is bound to 127.0.0.1.

Usage: ``python -m serve_app.ops.launch configs/cpu.yaml [--metrics-port 8080] [--dashboard-port 8265]``
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from types import FrameType

from serve_app.ops.shutdown import DEFAULT_TIMEOUT_S, connect, drain_and_shutdown

BIN = Path(sys.executable).parent
DEFAULT_METRICS_PORT = 8080
DEFAULT_DASHBOARD_PORT = 8265


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


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _log(message: str) -> None:
    now = time.time()
    print(f"{time.strftime('%H:%M:%S', time.localtime(now))}.{int(now % 1 * 1000):03d} {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="Serve config file, e.g. configs/serve.yaml")
    parser.add_argument("--metrics-port", type=int, default=DEFAULT_METRICS_PORT, help="Prometheus scrape port")
    parser.add_argument("--dashboard-port", type=int, default=DEFAULT_DASHBOARD_PORT)
    parser.add_argument(
        "--drain-timeout-s", type=float, default=DEFAULT_TIMEOUT_S, help="longest wait for in-flight requests"
    )
    args = parser.parse_args(argv)

    # Ray and serve run get sessions of their own: a terminal's Ctrl-C (sent to the whole foreground
    # process group) then reaches only this process, which drains before anything is stopped.
    subprocess.run(ray_start_command(args.metrics_port, args.dashboard_port), check=True, start_new_session=True)
    print(f"Ray metrics (Prometheus): http://127.0.0.1:{args.metrics_port}/metrics", flush=True)
    # A shell that starts us in the background ignores SIGINT, and children inherit that; serve run
    # must get the default handling back so that the SIGINT sent below shuts it down.
    serve = subprocess.Popen(
        [str(BIN / "serve"), "run", "--address=auto", args.config],
        preexec_fn=_default_signals,
        start_new_session=True,
    )
    stop = threading.Event()
    signals = 0

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal signals
        signals += 1
        _log(f"got {signal.Signals(signum).name}")
        if signals > 1 and serve.poll() is None:  # a second Ctrl-C: stop now, cutting what is in flight
            serve.send_signal(signal.SIGINT)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # Connected before any stop, so that a stop starts draining at once (~0.5 s, not the seconds a
    # fresh driver takes to import Ray and connect on a loaded machine).
    connect()
    import ray

    signal.signal(signal.SIGINT, on_signal)  # ray.init installs its own
    signal.signal(signal.SIGTERM, on_signal)
    try:
        while serve.poll() is None and not stop.wait(0.5):
            pass
        if serve.poll() is None:
            _log("stopping: draining in-flight requests (Ctrl-C again to stop at once)")
            try:
                drain_and_shutdown(args.drain_timeout_s, log=_log, give_up=lambda: signals > 1)
            except Exception:  # noqa: BLE001 - a failed drain must still stop the service
                traceback.print_exc()
            if serve.poll() is None:
                serve.send_signal(signal.SIGINT)
        return serve.wait()
    finally:
        ray.shutdown()
        subprocess.run([str(BIN / "ray"), "stop", "--force"], check=False, capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
