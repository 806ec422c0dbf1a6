"""How a trained artifact names the generator it was trained with, and how that is checked.

A manifest's sources list the generator under :data:`NAME` with the digest of its source and, since
the generator became a package, the digest of the texts it wrote (:func:`texts_sha256`). The check is
on the texts: an edit that writes the same texts keeps the artifact's validation split, one that
writes other texts does not. A manifest from the one-file generator recorded only that file's
digest; :data:`_ONE_FILE_TEXTS` holds what that file wrote, taken when the package replaced it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from devtools.synthetic_moderation.model import SyntheticText

NAME = "devtools/synthetic_moderation.py"  # the generator's "file" in a manifest's sources
_PACKAGE = Path(__file__).resolve().parent

# source digest of the one-file generator -> {(seed, scale): digest of its texts}
_ONE_FILE_TEXTS: dict[str, dict[tuple[int, float], str]] = {
    "8312dd2556666b26867d753d15ffd95479fe96a77672c876da6253f38229c493": {
        (20261201, 1.0): "4905f8dde84f3118cfb69f5f6858b943c08955c96b03f79cacf8e7f96e7acf1a",
    },
}


def source_sha256() -> str:
    """One digest of the package's modules (names and contents, in name order)."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def texts_sha256(rows: Iterable[SyntheticText]) -> str:
    """One digest of the generated texts, their labels, families and holdout flags, in order."""
    digest = hashlib.sha256()
    for r in rows:
        row = [r.text, r.lang, sorted(r.labels), r.family, r.holdout]
        digest.update(json.dumps(row, ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()


def recorded_texts_sha256(entry: Mapping[str, object], seed: int, scale: float) -> str | None:
    """The texts digest a manifest's generator entry stands for (None: unknown, retrain)."""
    if isinstance(entry.get("texts_sha256"), str):
        return str(entry["texts_sha256"])
    return _ONE_FILE_TEXTS.get(str(entry.get("sha256")), {}).get((seed, scale))
