"""The Quickstart as written, on a machine state with nothing to help it: a fresh clone, an empty HOME.

``make serve`` runs in a fresh clone with an empty HOME: the NSFW model conversion (npm pack), the
tiny checkpoint, the Ray token, the launch, a chat and a moderation request, Ctrl-C, nothing left.
The clone shares this checkout's virtualenv (its ``.venv`` is a link, its install stamp current):
building a second one from nothing costs about 7 minutes of the 30-minute CI budget, and CI already
builds this one from nothing (``.ci/run`` runs ``make test`` on a clean clone with an empty HOME,
and ``make test`` depends on ``setup``). Every other step ``make serve`` takes is its own here.
The container's command runs here too, from an empty HOME, on the CPU config.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from devtools.service import ROOT
from tests.e2e.launched import CleanWorld, Process

pytestmark = [pytest.mark.e2e, pytest.mark.own_cluster]

QUICKSTART_URL = "http://127.0.0.1:8000"  # configs/cpu.yaml's http_options
FROM_NOTHING_TIMEOUT_S = 900.0  # the model conversion, the tiny checkpoint, then the start
STOP_TIMEOUT_S = 180.0


@pytest.fixture
def world() -> Iterator[CleanWorld]:
    w = CleanWorld()
    yield w
    w.close()


def clone_working_tree(dest: Path) -> None:
    """``git clone`` of this repository, plus the working tree's uncommitted changes (none in CI), so a
    local run tests what is on disk."""
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(dest)], check=True)

    def listed(*flags: str) -> list[str]:
        out = subprocess.run(["git", "ls-files", "-z", *flags], cwd=ROOT, capture_output=True, check=True).stdout
        return [p for p in out.decode().split("\0") if p]

    for path in listed("-d"):
        (dest / path).unlink(missing_ok=True)
    for path in listed("-m", "-o", "--exclude-standard"):
        source = ROOT / path
        if source.is_file():
            (dest / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / path)


def share_virtualenv(clone: Path) -> None:
    """The clone's ``.venv`` is this checkout's (see the module docstring); its stamp is made newer than
    the clone's lock files so ``make`` does not reinstall (an editable reinstall would point this
    checkout's environment at the clone)."""
    venv = ROOT / ".venv"
    (clone / ".venv").symlink_to(venv, target_is_directory=True)
    stamp = venv / ".installed"
    newest = max(
        (clone / name).stat().st_mtime for name in ("requirements.lock", "requirements-nodeps.lock", "pyproject.toml")
    )
    os.utime(stamp, (newest + 1, newest + 1))


def talk_to_it() -> None:
    """One chat completion and one moderation request, as the README shows them."""
    client = openai.OpenAI(base_url=f"{QUICKSTART_URL}/v1", api_key="unused-unless-configured", max_retries=0)
    model = client.models.list().data[0].id
    completion = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Describe a tote bag."}], max_tokens=8, temperature=0
    )
    assert completion.choices[0].finish_reason in ("stop", "length", "content_filter")
    result = client.moderations.create(input=["add wechat bag888 for cheap bags"]).results[0]
    assert result.flagged


@pytest.mark.timeout(FROM_NOTHING_TIMEOUT_S + STOP_TIMEOUT_S + 120)
def test_make_serve_from_a_fresh_clone_with_an_empty_home(world: CleanWorld, tmp_path: Path) -> None:
    clone = tmp_path / "qwen-vl-serve"
    clone_working_tree(clone)
    share_virtualenv(clone)
    make = Process(["make", "serve"], clone, world.env(), tmp_path / "make-serve.log")
    ready_s = make.wait_ready(QUICKSTART_URL, FROM_NOTHING_TIMEOUT_S)
    print(f"\n[e2e] quickstart: `make serve` from a fresh clone and an empty HOME ready in {ready_s:.0f} s")
    talk_to_it()
    token = clone / ".cache" / "ray" / "auth_token"
    assert token.stat().st_mode & 0o777 == 0o600
    stopped = time.monotonic()
    make.signal_group(signal.SIGINT)  # Ctrl-C in the terminal
    make.wait(STOP_TIMEOUT_S)
    left = world.leftovers()
    print(f"[e2e] quickstart: Ctrl-C stopped make in {time.monotonic() - stopped:.1f} s; {len(left)} processes left")
    assert "drained in" in make.output()
    assert left == []


def dockerfile_command() -> tuple[list[str], dict[str, str]]:
    """The image's CMD (exec form) and ENV, as Docker would run them."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    [cmd] = re.findall(r"^CMD\s+(\[.*\])\s*$", text, re.M)
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV\s+(.*)$", text, re.M):
        env.update(dict(re.findall(r"(\w+)=(\S+)", line)))
    return json.loads(cmd), env


def test_the_container_command_runs_from_an_empty_home(world: CleanWorld, tmp_path: Path) -> None:
    argv, image_env = dockerfile_command()
    assert argv[0] == "python" and "configs/serve.yaml" in argv
    command = [sys.executable, *["configs/cpu.yaml" if a == "configs/serve.yaml" else a for a in argv[1:]]]
    app_dir = image_env["QVS_HOME"]  # the image's app directory is this checkout here
    env = {k: v.replace(app_dir, str(ROOT)).replace("/home/ray", str(world.home)) for k, v in image_env.items()}
    # `docker run` without -e QVS_API_KEYS / QVS_ADMIN_API_KEYS: the preflight refuses, nothing starts
    keyless = subprocess.run(command, cwd=ROOT, env=world.env(**env), capture_output=True, text=True, timeout=120)
    assert keyless.returncode == 1 and "QVS_API_KEYS" in keyless.stderr
    keys = {"QVS_API_KEYS": "container-caller-key", "QVS_ADMIN_API_KEYS": "container-admin-key"}
    proc = Process(command, ROOT, world.env(**env, **keys), tmp_path / "container.log")
    ready_s = proc.wait_ready(QUICKSTART_URL, 420)
    print(f"\n[e2e] container command on the CPU config, empty HOME: ready in {ready_s:.0f} s")
    chat = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
    with httpx.Client(base_url=QUICKSTART_URL, timeout=60) as client:
        assert client.post("/v1/chat/completions", json=chat).status_code == 401  # bound to 0.0.0.0: keys required
        authorized = {"authorization": f"Bearer {keys['QVS_API_KEYS']}"}
        reply = client.post("/v1/chat/completions", json=chat, headers=authorized)
        assert reply.status_code == 200
    proc.proc.send_signal(signal.SIGTERM)  # `docker stop` signals PID 1 only
    assert proc.wait(STOP_TIMEOUT_S) == 0
    assert world.leftovers() == []
