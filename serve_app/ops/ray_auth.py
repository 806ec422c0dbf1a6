"""One authentication story for every Ray cluster the project starts: Ray's token auth, with the
token in a project-local file that the launcher creates on first use.

Why token auth: Ray's dashboard and job API can run arbitrary code on the cluster; without a token,
anyone who reaches its ports owns the machine. Why a project file rather than Ray's default
``~/.ray/auth_token``: a fresh machine (a CI runner, a container, a new user) has no home-directory
token, and a cluster started without one would be unauthenticated or unreachable by our own drivers.

Where the token comes from, first match wins:

1. ``RAY_AUTH_TOKEN`` in the environment (a secret injected by an orchestrator);
2. ``RAY_AUTH_TOKEN_PATH`` naming an existing, non-empty file (a mounted secret);
3. ``<project>/.cache/ray/auth_token``, created here (mode 0600) when missing.

Every process of the cluster and every driver gets ``RAY_AUTH_MODE=token`` and the same source
(:func:`cluster_env`), so ``ray start``, ``serve run``, ``make stop``, the end-to-end harness and
the Ray Data job all agree. A worker node joins with the same token (README "Scaling out").
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from pipelines.core.paths import project_root

AUTH_MODE_ENV = "RAY_AUTH_MODE"
TOKEN_ENV = "RAY_AUTH_TOKEN"
TOKEN_PATH_ENV = "RAY_AUTH_TOKEN_PATH"
TOKEN_FILE = Path(".cache") / "ray" / "auth_token"
TOKEN_BYTES = 32  # 256 bits, hex-encoded


class TokenError(RuntimeError):
    """The configured token source is unusable (named but missing or empty)."""


@dataclass(frozen=True)
class TokenSource:
    """Where the cluster's token lives: an environment value or a file path."""

    env: str | None = None
    path: Path | None = None

    def environ(self) -> dict[str, str]:
        """What a child process or driver needs in its environment to use this token."""
        extra = {AUTH_MODE_ENV: "token"}
        if self.env is not None:
            extra[TOKEN_ENV] = self.env
        if self.path is not None:
            extra[TOKEN_PATH_ENV] = str(self.path)
        return extra

    def describe(self) -> str:
        return f"${TOKEN_ENV}" if self.env is not None else f"{self.path} (${TOKEN_PATH_ENV})"


def default_token_path(root: Path | None = None) -> Path:
    return (root or project_root()) / TOKEN_FILE


def resolve_token(environ: dict[str, str] | None = None, root: Path | None = None, create: bool = True) -> TokenSource:
    """The token source for this project (see module doc). ``create``: write the project file when
    nothing else names a token (the launcher does; a driver joining an existing cluster does not)."""
    env = os.environ if environ is None else environ
    if env.get(TOKEN_ENV, "").strip():
        return TokenSource(env=env[TOKEN_ENV].strip())
    named = env.get(TOKEN_PATH_ENV, "").strip()
    if named:
        path = Path(named).expanduser()
        if not _non_empty(path):
            raise TokenError(f"${TOKEN_PATH_ENV} names {path}, which is missing or empty")
        return TokenSource(path=path)
    path = default_token_path(root)
    if _non_empty(path):
        _restrict(path)
        return TokenSource(path=path)
    if not create:
        raise TokenError(
            f"no Ray token: {path} does not exist and neither ${TOKEN_ENV} nor ${TOKEN_PATH_ENV} is set "
            "(start the service with `make serve` first, or export the cluster's token)"
        )
    write_new_token(path)
    return TokenSource(path=path)


def write_new_token(path: Path) -> None:
    """A fresh random token, created with mode 0600 (never readable by others, not even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another launcher won the race: use its token
        return
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(TOKEN_BYTES))


def _non_empty(path: Path) -> bool:
    try:
        return path.is_file() and path.read_text().strip() != ""
    except OSError:
        return False


def _restrict(path: Path) -> None:
    """A token file readable by group or others is tightened to 0600 (what Ray's own file is)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        path.chmod(0o600)


def cluster_env(environ: dict[str, str] | None = None, create: bool = False) -> dict[str, str]:
    """The variables that make a driver or child process authenticate to the project's cluster."""
    return resolve_token(environ, create=create).environ()


def use_cluster_token(create: bool = False) -> TokenSource:
    """Set this process's environment for the cluster's token; call before ``import ray`` connects."""
    source = resolve_token(create=create)
    os.environ.update(source.environ())
    return source
