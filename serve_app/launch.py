"""Start a local Ray head bound to loopback with Ray's Prometheus endpoint on a fixed port, then
``serve run`` a config on it; stop both on Ctrl-C. What ``make serve`` and the end-to-end tests run.

``serve run CONFIG`` alone would start Ray with a random metrics port; Prometheus needs a fixed one.
Ray binds its metrics endpoint and internal ports to the node's address (all interfaces here, as
Ray 2.60 does not honour a loopback node address): keep them behind a firewall; only the dashboard
is bound to 127.0.0.1.

Usage: ``python -m serve_app.launch configs/cpu.yaml [--metrics-port 8080] [--dashboard-port 8265]``
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="Serve config file, e.g. configs/serve.yaml")
    parser.add_argument("--metrics-port", type=int, default=DEFAULT_METRICS_PORT, help="Prometheus scrape port")
    parser.add_argument("--dashboard-port", type=int, default=DEFAULT_DASHBOARD_PORT)
    args = parser.parse_args(argv)

    subprocess.run(ray_start_command(args.metrics_port, args.dashboard_port), check=True)
    print(f"Ray metrics (Prometheus): http://127.0.0.1:{args.metrics_port}/metrics", flush=True)
    # A shell that starts us in the background ignores SIGINT, and children inherit that; serve run
    # must get the default handling back so that the SIGINT forwarded below shuts it down.
    serve = subprocess.Popen([str(BIN / "serve"), "run", "--address=auto", args.config], preexec_fn=_default_signals)

    def forward(signum: int, frame: FrameType | None) -> None:
        if serve.poll() is None:
            serve.send_signal(signal.SIGINT)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    try:
        return serve.wait()
    finally:
        subprocess.run([str(BIN / "ray"), "stop", "--force"], check=False, capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
