"""The original nsfwjs, run in Node, as the reference the converted PyTorch model is held to.

Dev only (the parity test): the service never runs Node. ``install`` puts the pinned tree of
``devtools/nsfwjs_reference/package-lock.json`` (``@tensorflow/tfjs`` 4.22.0, whose pure-JavaScript
CPU backend runs the model, and nsfwjs from the same pinned tarball the converter reads) into
``.cache/nsfwjs-node/`` with ``npm ci``; ``run_reference`` feeds it images as raw arrays.

The lockfile names the tarball as ``file:../nsfwjs/nsfwjs-4.4.0.tgz``, so the Node folder sits beside
the converter's package folder (both under ``.cache/``), and ``npm ci`` checks the tarball against the
lockfile's integrity, the same SHA-512 the converter pins.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.moderation.images.nsfw_convert import ConvertSettings, fetch_package

REFERENCE_DIR = Path(__file__).parent / "nsfwjs_reference"
SCRIPT = REFERENCE_DIR / "reference.mjs"
_MANIFESTS = ("package.json", "package-lock.json")


def node_dir(settings: ConvertSettings) -> Path:
    return settings.package_dir.parent / "nsfwjs-node"


def _lock_digest() -> str:
    return hashlib.sha256(b"".join((REFERENCE_DIR / name).read_bytes() for name in _MANIFESTS)).hexdigest()


def install(settings: ConvertSettings, *, npm: str = "npm", timeout_s: float = 600.0) -> Path:
    """The Node folder with the locked dependencies installed (reinstalled when the lockfile changes)."""
    target = node_dir(settings)
    stamp = target / ".installed"
    digest = _lock_digest()
    if stamp.is_file() and stamp.read_text().strip() == digest and (target / "node_modules" / "nsfwjs").is_dir():
        return target
    executable = shutil.which(npm)
    if executable is None:
        raise RuntimeError(f"{npm!r} not found: install Debian's `npm` package (make setup does)")
    fetch_package(settings)
    target.mkdir(parents=True, exist_ok=True)
    for name in _MANIFESTS:
        shutil.copyfile(REFERENCE_DIR / name, target / name)
    subprocess.run(
        [executable, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
        cwd=target,
        check=True,
        capture_output=True,
        timeout=timeout_s,
    )
    stamp.write_text(digest)
    return target


@dataclass(frozen=True)
class ReferenceResult:
    classes: list[str]
    versions: dict[str, str]  # backend, tfjs, nsfwjs
    tensors: np.ndarray  # [N, classes] for the preprocessed tensors, fed straight to the model
    pixels: np.ndarray  # [M, classes] for the RGB images, through nsfwjs's own preprocessing


def run_reference(
    target: Path,
    tensors: list[np.ndarray],
    pixels: list[np.ndarray],
    *,
    node: str = "node",
    timeout_s: float = 600.0,
) -> ReferenceResult:
    """nsfwjs's class probabilities of float32 [224, 224, 3] tensors and of uint8 [H, W, 3] RGB images."""
    with tempfile.TemporaryDirectory() as scratch:
        items = []
        for kind, arrays, dtype in (("tensor", tensors, "<f4"), ("pixels", pixels, "|u1")):
            for index, array in enumerate(arrays):
                path = Path(scratch) / f"{kind}-{index}.bin"
                np.ascontiguousarray(array, dtype=dtype).tofile(path)  # the layout reference.mjs reads
                items.append({"kind": kind, "path": str(path), "shape": list(array.shape)})
        request, result = Path(scratch) / "request.json", Path(scratch) / "result.json"
        request.write_text(json.dumps({"items": items}))
        subprocess.run(
            [node, str(SCRIPT), str(target), str(request), str(result)],
            check=True,
            capture_output=True,
            timeout=timeout_s,
        )
        answer = json.loads(result.read_text())
    probabilities = np.array(answer["probabilities"], dtype=np.float64).reshape(len(items), -1)
    return ReferenceResult(
        classes=answer["classes"],
        versions={key: answer[key] for key in ("backend", "tfjs", "nsfwjs")},
        tensors=probabilities[: len(tensors)],
        pixels=probabilities[len(tensors) :],
    )
