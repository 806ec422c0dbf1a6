"""Where relative paths in configs resolve, for the service and the offline job alike."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """``QVS_HOME`` if set, else the current directory (where ``serve run`` was started)."""
    return Path(os.environ.get("QVS_HOME") or Path.cwd())


def resolve_path(path: str) -> str:
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (project_root() / p).resolve())
