"""Output parts on disk: atomic writes, and what a rerun finds there (resume, repair, retries)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobs.batch_moderate.rows import OUTPUT_SCHEMA, ResultRow
from jobs.batch_moderate.settings import CORRUPT_SUFFIX, PARQUET_SUFFIX, PART_HASH_CHARS, PART_PREFIX
from pipelines.core.files import HIDDEN_PREFIX, TMP_SUFFIX, atomic_write, fsync_dir

logger = logging.getLogger(__name__)

# --- output parts and resume ------------------------------------------------------------------


def part_name(ids: Iterable[str]) -> str:
    """A batch's part is named by its ids: a retried batch replaces its own part instead of adding one."""
    digest = hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()
    return f"{PART_PREFIX}{digest[:PART_HASH_CHARS]}{PARQUET_SUFFIX}"


def write_part(out_dir: Path, rows: Sequence[ResultRow]) -> Path | None:
    """Write ``rows`` as one Parquet part: hidden temporary file, fsync, atomic rename."""
    if not rows:
        return None
    table = pa.Table.from_pylist([asdict(r) for r in rows], schema=OUTPUT_SCHEMA)
    return atomic_write(out_dir / part_name(r.id for r in rows), lambda tmp: pq.write_table(table, tmp))


def _is_part(path: Path) -> bool:
    return path.name.startswith(PART_PREFIX) and path.name.endswith(PARQUET_SUFFIX)


@dataclass
class OutputState:
    ids: set[str]
    rows: int
    parts: int
    quarantined: list[str] = field(default_factory=list)
    dropped: int = 0
    """Rows removed from their parts to be done again (``retry_statuses``)."""

    @property
    def duplicates(self) -> int:
        return self.rows - len(self.ids)


def scan_output(out_dir: Path, *, repair: bool = True, retry_statuses: frozenset[str] = frozenset()) -> OutputState:
    """The ids already written. With ``repair``, temporary files of a crashed run are deleted, parts that
    cannot be read are renamed to ``.<name>.corrupt`` (readers skip them; their rows are redone), and rows
    whose status is in ``retry_statuses`` are removed from their parts (rewritten atomically) to be redone."""
    state = OutputState(set(), 0, 0)
    if not out_dir.is_dir():
        return state
    for path in sorted(out_dir.iterdir()):
        if repair and path.name.startswith(HIDDEN_PREFIX + PART_PREFIX) and path.name.endswith(TMP_SUFFIX):
            path.unlink(missing_ok=True)
            continue
        if not (path.is_file() and _is_part(path)):
            continue
        try:
            table = pq.read_table(path, columns=["id", "status"])
        except (pa.ArrowException, OSError, KeyError) as exc:
            logger.warning("unreadable part %s (%s): its rows will be processed again", path.name, exc)
            if repair:
                path.rename(out_dir / f"{HIDDEN_PREFIX}{path.name}{CORRUPT_SUFFIX}")
                state.quarantined.append(path.name)
            continue
        if repair and retry_statuses:
            retry = pc.is_in(table.column("status"), value_set=pa.array(sorted(retry_statuses), type=pa.string()))
            dropped = pc.sum(retry).as_py() or 0
            if dropped:
                _drop_rows(path, retry_statuses)
                table = table.filter(pc.invert(retry))
                state.dropped += dropped
        column = table.column("id").to_pylist()
        state.ids.update(column)
        state.rows += len(column)
        state.parts += int(bool(column))
    return state


def _drop_rows(path: Path, statuses: frozenset[str]) -> None:
    """Rewrite a part without the rows of ``statuses`` (temporary file, then rename), or delete it if none stay."""
    table = pq.read_table(path)
    keep = table.filter(pc.invert(pc.is_in(table.column("status"), value_set=pa.array(sorted(statuses)))))
    if keep.num_rows == 0:
        path.unlink()
        fsync_dir(path.parent)
    else:
        atomic_write(path, lambda tmp: pq.write_table(keep.cast(OUTPUT_SCHEMA), tmp))
