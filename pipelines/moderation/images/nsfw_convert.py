"""Setup step: fetch the pinned nsfwjs npm package and convert its MobileNetV2 into an ONNX model.

``python -m pipelines.moderation.images.nsfw_convert convert`` (run by ``make setup``) leaves
``.cache/nsfw/mobilenet_v2.onnx`` and its card ``mobilenet_v2.json`` (classes, input size,
preprocessing, the source tarball's hashes). It does nothing when they are there, intact, and were
made from the pinned tarball in the current format.

Decisions:

* The package comes from the npm registry with ``npm pack`` (no other download), pinned by version
  and by the tarball's SHA-512 recorded here: a changed tarball fails the setup rather than loading
  different weights. It is cached in ``.cache/nsfwjs/`` and never committed.
* nsfwjs 4.4.0 ships three models; this takes ``MobileNetV2``, the one its ``load()`` uses by default
  (``dist/cjs/index.js``: ``DEFAULT_MODEL_NAME``). Its ``model.json`` and weight shard are bundled as
  JavaScript modules (``dist/models/mobilenet_v2/*.min.js``), read, never executed: the object
  literal with a JavaScript parser (esprima), the shard's one base64 literal with a strict pattern.
* The weights are uint8-quantised in the package. They are dequantised exactly as tfjs does
  (``q * scale + min`` in double precision, stored as float32), so the converted network is the one
  nsfwjs runs, not an approximation of the model it was quantised from.
* No TensorFlow (``nsfw_export`` does the work): the topology becomes typed layer specs run by a
  PyTorch module (``nsfw_net``), the weights move to PyTorch's layouts (conv kernels HWIO -> OIHW,
  depthwise HWCM -> (C*M)1HW, dense IO -> OI), and the module is exported to ONNX, checked against
  itself in onnxruntime. The screen then runs on onnxruntime alone: a screening replica needs no
  torch (about 0.5 GB and seconds of import less) and runs 2-3x faster on one thread.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from pipelines.core.files import file_sha256
from pipelines.core.paths import resolve_path
from pipelines.moderation.images.nsfw_card import ModelFiles, verified_card

logger = logging.getLogger(__name__)

# The pin. Changing the version needs the new tarball's hashes (`npm pack nsfwjs@X --json` prints
# the integrity; `sha256sum` the other) and a rerun of the parity test (tests/dev/test_nsfw_parity.py).
NSFWJS_VERSION = "4.4.0"
NSFWJS_INTEGRITY = "sha512-krC1fgeTLXtZwgdpKJ0jm7hqv0gTSRQQRL+FhOaxaJ9Wj92t42BO3csO2odwgTAgZgf2RvkwPtp0R8Aa7dc+MA=="
NSFWJS_SHA256 = "585cd178f3b994337c4d10a87b080d342fc52f8b9bf0085c4d1f345a3a1c5382"
NSFWJS_LICENCE = "MIT (package/LICENSE, Copyright (c) 2019 Infinite Red, Inc.)"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConvertSettings(_Strict):
    package_dir: Path = Field(Path(".cache/nsfwjs"), description="Where the npm tarball is cached (not committed).")
    model_dir: Path = Field(Path(".cache/nsfw"), description="Where the converted model and its card are written.")
    npm: str = Field("npm", description="The npm executable (Debian's `npm` package).")
    npm_timeout_s: float = Field(300.0, gt=0, description="Bound on `npm pack` (the tarball is about 25 MB).")
    max_member_bytes: int = Field(
        16 << 20, gt=0, description="Largest tarball member read into memory (the weight shard is 3.5 MB)."
    )
    onnx_opset: int = Field(17, ge=13, description="ONNX opset of the exported model (onnxruntime runs 7-23).")
    export_tolerance: float = Field(
        1e-5, gt=0.0, description="Largest |onnxruntime - torch| probability accepted on the export check."
    )

    def resolved(self) -> ConvertSettings:
        """The same settings with relative folders under the project root (``QVS_HOME`` or the cwd)."""
        return self.model_copy(
            update={
                "package_dir": Path(resolve_path(str(self.package_dir))),
                "model_dir": Path(resolve_path(str(self.model_dir))),
            }
        )

    @property
    def tarball(self) -> Path:
        return self.package_dir / f"nsfwjs-{NSFWJS_VERSION}.tgz"

    @property
    def files(self) -> ModelFiles:
        return ModelFiles(self.model_dir)


class ConversionError(RuntimeError):
    """The package is missing, differs from the pin, or holds something this converter cannot read."""


def npm_integrity(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha512-" + base64.b64encode(digest.digest()).decode("ascii")


def verify_tarball(path: Path) -> None:
    integrity = npm_integrity(path)
    if integrity != NSFWJS_INTEGRITY:
        raise ConversionError(f"{path}: integrity {integrity} is not the pinned {NSFWJS_INTEGRITY}")
    if file_sha256(path) != NSFWJS_SHA256:
        raise ConversionError(f"{path}: SHA-256 is not the pinned {NSFWJS_SHA256}")


def fetch_package(settings: ConvertSettings) -> Path:
    """The pinned tarball, from the cache when it is there and intact, else from ``npm pack``."""
    tarball = settings.tarball
    if tarball.is_file():
        try:
            verify_tarball(tarball)
            return tarball
        except ConversionError as exc:
            logger.warning("cached package rejected, fetching it again: %s", exc)
            tarball.unlink()
    npm = shutil.which(settings.npm)
    if npm is None:
        raise ConversionError(f"{settings.npm!r} not found: install Debian's `npm` package (make setup does)")
    settings.package_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.package_dir) as staging:
        try:
            subprocess.run(
                [npm, "pack", f"nsfwjs@{NSFWJS_VERSION}", "--pack-destination", staging, "--silent"],
                check=True,
                capture_output=True,
                timeout=settings.npm_timeout_s,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            stderr = getattr(exc, "stderr", b"") or b""
            raise ConversionError(
                f"npm pack nsfwjs@{NSFWJS_VERSION} failed: {stderr.decode(errors='replace')}"
            ) from exc
        fetched = Path(staging) / tarball.name
        verify_tarball(fetched)
        os.replace(fetched, tarball)
    return tarball


def up_to_date(settings: ConvertSettings) -> bool:
    """True when the converted model exists, matches its card, and came from the pinned tarball."""
    files = settings.files
    if not files.card.is_file():
        return False
    try:
        card = verified_card(files)
    except (OSError, ValueError):
        return False
    return card.source.integrity == NSFWJS_INTEGRITY


def convert(settings: ConvertSettings, *, force: bool = False) -> bool:
    """Fetch and convert unless already done; True when it converted."""
    if not force and up_to_date(settings):
        return False
    # imported here: torch, onnx and the parser take seconds to import, needed only to convert
    from pipelines.moderation.images.nsfw_export import convert_tarball

    convert_tarball(fetch_package(settings), settings)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.moderation.images.nsfw_convert", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("convert", help="fetch nsfwjs and convert its default model (skipped when up to date)")
    run.add_argument("--package-dir", type=Path, default=ConvertSettings().package_dir)
    run.add_argument("--model-dir", type=Path, default=ConvertSettings().model_dir)
    run.add_argument("--force", action="store_true", help="convert even when the output is up to date")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = ConvertSettings(package_dir=args.package_dir, model_dir=args.model_dir).resolved()
    started = time.perf_counter()
    try:
        converted = convert(settings, force=args.force)
    except ConversionError as exc:
        logger.error("nsfw model conversion failed: %s", exc)
        return 1
    state = "converted" if converted else "up to date"
    logger.info("nsfw model %s: %s (%.1f s)", state, settings.files.model, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
