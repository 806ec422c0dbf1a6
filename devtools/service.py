"""Start the real service the way users do (`python -m serve_app.ops.launch CONFIG`, what `make serve` runs)
and stop it cleanly: the harness the end-to-end tests and the benchmarks share."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import yaml
from PIL import Image

from serve_app.ops.ray_auth import cluster_env

ROOT = Path(__file__).resolve().parents[1]
TINY_MODEL_DIR = Path(os.environ.get("QVS_TINY_MODEL", ROOT / ".cache" / "tiny-qwen3-vl"))


def png_bytes(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A small solid-colour PNG, made in memory."""
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


AD_LINE = "add wechat shop_8899 for cheap bags"
CONTACT_LINK = "https://wa.me/14155550123"
LATIN_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # Debian's fonts-dejavu-core


def ad_image() -> Image.Image:
    """A 1024x768 product shot with a small-print ad line and a QR code to a WhatsApp chat."""
    import cv2
    import numpy as np
    from PIL import ImageDraw, ImageFont

    image = Image.new("RGB", (1024, 768), (235, 232, 225))
    ImageDraw.Draw(image).text((60, 80), AD_LINE, fill=(20, 20, 20), font=ImageFont.truetype(LATIN_FONT, 24))
    qr = cv2.QRCodeEncoder.create().encode(CONTACT_LINK)
    image.paste(Image.fromarray(np.kron(qr, np.ones((8, 8), dtype=np.uint8))).convert("RGB"), (600, 300))
    return image


def data_url(image: Image.Image) -> str:
    encoded = io.BytesIO()
    image.save(encoded, format="PNG")
    return "data:image/png;base64," + base64.b64encode(encoded.getvalue()).decode("ascii")


def write_policy(policy: dict, dest: Path) -> Path:
    """A (possibly edited) copy of ``configs/policy.yaml`` written elsewhere: its ``term_files`` made
    absolute, since they are relative to the file that names them (``configs/lexicons/...``)."""
    configs = ROOT / "configs"
    for spec in policy.get("categories", {}).values():
        if isinstance(spec, dict) and spec.get("term_files"):
            spec["term_files"] = [str(configs / name) for name in spec["term_files"]]
    dest.write_text(yaml.safe_dump(policy, allow_unicode=True, sort_keys=False))
    return dest


SERVE_BIN = Path(sys.executable).parent / "serve"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(
    base: Path,
    out: Path,
    port: int,
    overrides: dict[str, dict],
    args: dict | None = None,
    extra_apps: list[dict] | None = None,
) -> Path:
    """A copy of ``base`` on another port, with per-deployment ``user_config`` and app ``args``
    overrides, and optionally more applications beside it."""
    config = yaml.safe_load(base.read_text())
    config["http_options"]["port"] = port
    config["applications"][0]["args"].update(args or {})
    config["applications"] += extra_apps or []
    for deployment in config["applications"][0]["deployments"]:
        if deployment["name"] in overrides:
            deployment.setdefault("user_config", {}).update(overrides[deployment["name"]])
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


class Service:
    """``python -m serve_app.ops.launch CONFIG`` (what ``make serve`` runs): a loopback Ray head with a
    fixed metrics port, and ``serve run`` on it."""

    def __init__(self, config: Path, port: int, log: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log = log
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.cold_start_s: float | None = None
        self.metrics_port = free_port()

    def start(self, timeout_s: float = 420.0) -> None:
        env = {**os.environ, "QVS_HOME": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1", **self.env}
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "serve_app.ops.launch", str(self.config), "--metrics-port", str(self.metrics_port)],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = started + timeout_s
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve run exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    self.cold_start_s = time.perf_counter() - started
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        self.stop()
        raise TimeoutError(f"service not ready after {timeout_s}s:\n{self.tail()}")

    def replica_processes(self, deployment: str) -> list[psutil.Process]:
        """The OS processes of a deployment's replicas (Ray names them ``ray::ServeReplica:APP:NAME``)."""
        marker = f"ServeReplica:qwen-vl:{deployment}"
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            try:
                if any(marker in part for part in proc.info["cmdline"] or []):
                    found.append(proc)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return found

    def deploy(self, config: Path) -> None:
        """``serve deploy`` a changed config to the running cluster, as an operator would. Ray's
        dashboard API requires the cluster's token (token auth is on for local clusters)."""
        env = {**os.environ, "QVS_HOME": str(ROOT), **cluster_env()}
        done = subprocess.run(
            [str(SERVE_BIN), "deploy", str(config)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            raise RuntimeError(f"serve deploy failed: {done.stderr[-2000:]}")

    def call_deployment(self, deployment: str, method: str) -> object:
        """Call a deployment method through a DeploymentHandle from a separate driver, as other Ray
        code composing our deployments would (a subprocess, so this test process never joins Ray)."""
        script = (
            "import json, ray; from ray import serve; ray.init(address='auto', logging_level='ERROR'); "
            f"print('RESULT=' + json.dumps(serve.get_deployment_handle({deployment!r}, app_name='qwen-vl')"
            f".{method}.remote().result()))"
        )
        env = {**os.environ, "QVS_HOME": str(ROOT), **cluster_env()}
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT=")]
        if done.returncode != 0 or not lines:
            raise RuntimeError(f"handle call failed: {done.stderr[-2000:]}")
        return json.loads(lines[-1].removeprefix("RESULT="))

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Ctrl-C, as a user stops ``make serve``: the launcher drains, stops Serve and Ray."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            # Ray and serve run live in sessions of their own (so Ctrl-C reaches only the launcher)
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                child.kill()
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
            subprocess.run([str(SERVE_BIN.parent / "ray"), "stop", "--force"], capture_output=True, check=False)
