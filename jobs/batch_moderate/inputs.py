"""Finding the inputs: an image directory with sidecar prompts, or Parquet files."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import fields
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobs.batch_moderate.rows import InputRow
from jobs.batch_moderate.settings import IMAGE_SUFFIXES, PARQUET_SUFFIX, SIDECAR_SUFFIX, InputFormat

logger = logging.getLogger(__name__)

# --- inputs -----------------------------------------------------------------------------------


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith((".", "_")) for part in path.relative_to(root).parts)


def list_image_dir(root: Path) -> list[InputRow]:
    """One row per image under ``root``; the sidecar prompt is read later, by the actor."""
    rows = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file() or not _visible(path, root):
            continue
        row_id = path.relative_to(root).as_posix()
        sidecars = [path.with_name(path.name + SIDECAR_SUFFIX), path.with_suffix(SIDECAR_SUFFIX)]
        sidecar = next((s for s in sidecars if s.is_file()), None)
        prompt_path = sidecar.relative_to(root).as_posix() if sidecar else None
        rows.append(InputRow(id=row_id, image_path=row_id, prompt_path=prompt_path))
    return rows


def parquet_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob(f"*{PARQUET_SUFFIX}") if p.is_file() and _visible(p, path))


def detect_format(path: Path, requested: InputFormat) -> Literal["images", "parquet"]:
    if requested != "auto":
        return requested
    if path.is_file():
        if path.suffix.lower() == PARQUET_SUFFIX:
            return "parquet"
        raise ValueError(f"{path}: not a Parquet file nor a directory")
    has_images = any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.rglob("*") if _visible(p, path))
    has_parquet = bool(parquet_files(path))
    if has_images == has_parquet:
        which = "both images and Parquet files" if has_images else "no images and no Parquet files"
        raise ValueError(f"{path} holds {which}: pass --input-format")
    return "images" if has_images else "parquet"


def read_parquet_ids(files: list[Path]) -> tuple[list[str], list[str]]:
    """All input ids, checked present and unique before any work starts, and the input columns to read."""
    if not files:
        raise ValueError("no Parquet files in the input")
    wanted = {f.name for f in fields(InputRow)}
    ids: list[str] = []
    columns: set[str] = set()
    for path in files:
        names = set(pq.read_schema(path).names)
        if "id" not in names:
            raise ValueError(f"{path}: no `id` column")
        if not {"prompt", "image", "image_path"} & names:
            raise ValueError(f"{path}: needs a `prompt`, `image` or `image_path` column")
        column = pq.read_table(path, columns=["id"]).column("id")
        if column.null_count:
            raise ValueError(f"{path}: `id` has nulls")
        ids += [str(v) for v in column.to_pylist()]
        columns |= names & wanted
    repeated = [i for i, n in Counter(ids).items() if n > 1]
    if repeated:
        raise ValueError(f"duplicate ids in the input, e.g. {sorted(repeated)[:5]}")
    return ids, sorted(columns)


def drop_finished(batch: pa.Table, finished: pa.Array) -> pa.Table:
    """Rows of a Parquet batch whose ``id`` (as a string) is not in ``finished``; unused columns dropped."""
    ids = pc.cast(batch.column("id"), pa.string())
    keep = [name for name in batch.column_names if name in {f.name for f in fields(InputRow)}]
    table = batch.select(keep).set_column(keep.index("id"), "id", ids)
    return table.filter(pc.invert(pc.is_in(ids, value_set=finished)))
