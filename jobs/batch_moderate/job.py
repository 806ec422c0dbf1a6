"""The job itself: the plan, the Ray Data pipeline, and the command line."""

from __future__ import annotations

import argparse
import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from jobs.batch_moderate.inputs import detect_format, drop_finished, list_image_dir, parquet_files, read_parquet_ids
from jobs.batch_moderate.rows import InputRow
from jobs.batch_moderate.settings import (
    DEFAULT_AUDIT_JOURNAL_DIR,
    DEFAULT_BATCH_SIZE,
    DEFAULT_CPU_ACTOR_CPUS,
    DEFAULT_GPU_ACTOR_CPUS,
    DEFAULT_GPU_ACTOR_GPUS,
    DEFAULT_NUM_ACTORS,
    DEFAULT_PROMPT,
    DEFAULT_TEMPERATURE,
    RETRY_STATUSES,
    JobConfig,
    RunSummary,
    WorkerSettings,
    build_job_config,
    resolve_device,
)
from jobs.batch_moderate.store import scan_output
from jobs.batch_moderate.worker import ModerationWorker
from pipelines.core.errors import ServiceError
from pipelines.moderation.setup import (
    DEFAULT_POLICY_FILE,
)
from serve_app.ops.ray_auth import use_cluster_token

logger = logging.getLogger(__name__)


@dataclass
class Plan:
    """A checked job: its configuration and inputs, before anything runs."""

    job: JobConfig
    input_format: Literal["images", "parquet"]
    out_dir: Path
    image_root: Path
    all_ids: list[str]
    image_rows: list[InputRow] = field(default_factory=list)
    parquet_files: list[Path] = field(default_factory=list)
    parquet_columns: list[str] = field(default_factory=list)


def make_plan(args: argparse.Namespace) -> Plan:
    """Configuration and inputs checked; raises ``ValueError`` (or a ``ServiceError``) on a bad one."""
    job = build_job_config(args)
    source = Path(args.input).resolve()
    if not source.exists():
        raise ValueError(f"{source}: no such file or directory")
    input_format = detect_format(source, args.input_format)
    out_dir = Path(args.output).resolve()
    if input_format == "images":
        rows = list_image_dir(source)
        return Plan(job, input_format, out_dir, source, [r.id for r in rows], image_rows=rows)
    files = parquet_files(source)
    ids, columns = read_parquet_ids(files)
    root = source if source.is_dir() else source.parent
    return Plan(job, input_format, out_dir, root, ids, parquet_files=files, parquet_columns=columns)


def build_dataset(plan: Plan, finished: set[str], limit: int | None) -> Any:
    """The unfinished inputs as a Ray Dataset of ``InputRow`` columns; None when there is nothing to do."""
    import ray.data

    if limit == 0 or not set(plan.all_ids) - finished:
        return None
    if plan.input_format == "images":
        pending = [asdict(r) for r in plan.image_rows if r.id not in finished]
        return ray.data.from_items(pending[:limit] if limit is not None else pending)
    dataset = ray.data.read_parquet([str(f) for f in plan.parquet_files], columns=plan.parquet_columns)
    dataset = dataset.map_batches(
        drop_finished, batch_format="pyarrow", fn_kwargs={"finished": pa.array(sorted(finished), type=pa.string())}
    )
    return dataset.limit(limit) if limit is not None else dataset


def run(plan: Plan, args: argparse.Namespace) -> RunSummary:
    """Process the unfinished rows of ``plan`` on Ray (joining ``--ray-address`` unless Ray is up already)."""
    import ray
    import ray.data

    plan.out_dir.mkdir(parents=True, exist_ok=True)
    before = scan_output(plan.out_dir, retry_statuses=RETRY_STATUSES if args.retry_errors else frozenset())
    statuses: Counter[str] = Counter()
    blocked: Counter[str] = Counter()
    started_ray = not ray.is_initialized()
    if started_ray:
        # the project's one token (serve_app/ops/ray_auth.py): joining the service's cluster needs it,
        # and a local cluster started here gets it too
        use_cluster_token(create=args.ray_address is None)
        ray.init(address=args.ray_address)
    try:
        job = resolve_device(plan.job)
        dataset = build_dataset(plan, before.ids, args.limit)
        if dataset is not None:
            settings = WorkerSettings(
                job=job,
                output_dir=str(plan.out_dir),
                image_root=str(plan.image_root),
                default_prompt=args.prompt,
                max_running=args.batch_size,
            )
            on_gpu = job.engine.device == "cuda"
            default_cpus = DEFAULT_GPU_ACTOR_CPUS if on_gpu else DEFAULT_CPU_ACTOR_CPUS
            moderated = dataset.map_batches(
                ModerationWorker,
                fn_constructor_kwargs={"settings": settings.model_dump(mode="json")},
                batch_size=args.batch_size,
                batch_format="pyarrow",
                compute=ray.data.ActorPoolStrategy(size=args.num_actors),
                num_cpus=args.num_cpus if args.num_cpus is not None else default_cpus,
                num_gpus=args.num_gpus if on_gpu else 0,
                udf_modifying_row_count=False,
            )
            for batch in moderated.iter_batches(batch_size=None, batch_format="pyarrow"):
                statuses.update(batch.column("status").to_pylist())
                blocked["input"] += sum(batch.column("input_blocked").to_pylist())
                blocked["output"] += sum(batch.column("output_blocked").to_pylist())
    finally:
        if started_ray:
            ray.shutdown()
    after = scan_output(plan.out_dir, repair=False)
    all_ids = set(plan.all_ids)
    return RunSummary(
        output=str(plan.out_dir),
        inputs=len(all_ids),
        already_done=len(before.ids & all_ids),
        processed=sum(statuses.values()),
        statuses=dict(statuses),
        input_blocked=blocked["input"],
        output_blocked=blocked["output"],
        remaining=len(all_ids - after.ids),
        duplicates=after.duplicates,
        quarantined=before.quarantined,
        retried=before.dropped,
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be zero or more")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jobs.batch_moderate",
        description="Moderate a directory of images or a Parquet table offline with the service's pipeline.",
    )
    io = parser.add_argument_group("input and output")
    io.add_argument("--input", required=True, help="Directory of images, or Parquet file/directory.")
    io.add_argument("--output", required=True, help="Output directory of Parquet parts (resumed if it exists).")
    io.add_argument("--input-format", choices=["auto", "images", "parquet"], default="auto")
    io.add_argument("--prompt", default=DEFAULT_PROMPT, help="Prompt of rows without their own.")
    io.add_argument("--limit", type=_non_negative_int, help="Process at most this many unfinished rows.")
    io.add_argument(
        "--retry-errors",
        action="store_true",
        help='Do rows of status "error" (engine or audit failures) again; "rejected" rows stay final.',
    )
    config = parser.add_argument_group("configuration (flags override the file)")
    files = config.add_mutually_exclusive_group()
    files.add_argument("--config", type=Path, help="Job config YAML/JSON: engine, validation, policy, sampling, audit.")
    files.add_argument(
        "--serve-config",
        type=Path,
        help="Take engine, validation limits and policy from a Serve config (configs/*.yaml).",
    )
    config.add_argument(
        "--model", help="Hub id or local directory of a Qwen3-VL checkpoint; required unless the config file names one."
    )
    config.add_argument("--served-model-name", help="Name in model_version, as the API reports it.")
    config.add_argument("--revision")
    config.add_argument("--dtype", choices=["auto", "bfloat16", "float16", "float32"])
    config.add_argument("--device", choices=["auto", "cuda", "cpu"])
    config.add_argument("--quantization", choices=["none", "8bit", "4bit"])
    config.add_argument("--torch-threads", type=_positive_int)
    config.add_argument("--local-files-only", action="store_true", help="Never contact the Hub.")
    config.add_argument("--max-tokens", type=_positive_int)
    config.add_argument("--temperature", type=float, help=f"Default {DEFAULT_TEMPERATURE} (greedy).")
    config.add_argument("--seed", type=int)
    config.add_argument("--policy", help=f"Policy file (default {DEFAULT_POLICY_FILE}).")
    config.add_argument("--audit-url", help="SQLAlchemy URL of the audit log; no auditing without it.")
    config.add_argument("--audit-journal-dir", help=f"Audit journal directory (default {DEFAULT_AUDIT_JOURNAL_DIR}).")
    ray_group = parser.add_argument_group("Ray")
    ray_group.add_argument("--batch-size", type=_positive_int, default=DEFAULT_BATCH_SIZE, help="Rows per batch.")
    ray_group.add_argument("--num-actors", type=_positive_int, default=DEFAULT_NUM_ACTORS, help="Actor pool size.")
    ray_group.add_argument(
        "--num-cpus",
        type=_positive_float,
        help=f"CPUs per actor (default {DEFAULT_CPU_ACTOR_CPUS} on CPU, {DEFAULT_GPU_ACTOR_CPUS} with --device cuda).",
    )
    ray_group.add_argument(
        "--num-gpus", type=_positive_float, default=DEFAULT_GPU_ACTOR_GPUS, help="GPUs per actor on CUDA."
    )
    ray_group.add_argument("--ray-address", help="Cluster to join ('local' starts a new one); Ray's default if unset.")
    return parser


def main(argv: Sequence[str] | None = None) -> RunSummary:
    """Run the job; prints and returns its summary. Configuration errors exit with status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        plan = make_plan(args)
    except (ValueError, ServiceError) as exc:  # pydantic's ValidationError is a ValueError
        parser.error(str(exc))
    summary = run(plan, args)
    print(json.dumps(asdict(summary), indent=2))
    return summary
