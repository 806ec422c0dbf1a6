"""The job's typed configuration and its constants: what ``--config`` / ``--serve-config`` and the flags set."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field

from pipelines.audit import AuditConfig
from pipelines.core.config import StrictConfig
from pipelines.core.paths import resolve_path
from pipelines.engine.vlm import EngineConfig
from pipelines.inputs.validation import ValidationLimits, validate_sampling_params
from pipelines.moderation.setup import (
    PolicySettings,
)
from serve_app.config import ValidatorUserConfig

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif"})
PARQUET_SUFFIX = ".parquet"
SIDECAR_SUFFIX = ".txt"
DEFAULT_PROMPT = "Describe this image."
DEFAULT_AUDIT_JOURNAL_DIR = ".cache/audit-journal"
DEFAULT_BATCH_SIZE = 8
DEFAULT_NUM_ACTORS = 1
DEFAULT_CPU_ACTOR_CPUS = 0.5  # as the VLM replica of configs/cpu.yaml: torch threads are set apart
DEFAULT_GPU_ACTOR_CPUS = 1.0
DEFAULT_GPU_ACTOR_GPUS = 1.0
# Greedy by default, unlike the API's OpenAI default of 1.0: a rerun of a batch job reproduces its answers.
DEFAULT_TEMPERATURE = 0.0

PART_PREFIX = "part-"
PART_HASH_CHARS = 32
CORRUPT_SUFFIX = ".corrupt"
RETRY_STATUSES = frozenset({"error"})  # transient failures (out of memory, audit outage); rejections are final

# The service's deploy config (configs/*.yaml) can stand in for a job config: same engine, limits, policy.
SERVE_IMPORT_PATH = "serve_app.app:build_app"
VALIDATOR_DEPLOYMENT = "Validator"
POLICY_DEPLOYMENT = "PolicyFilter"

FIRST_SERVER_ERROR_STATUS = 500  # a ServiceError below it is the input's fault ("rejected"), else "error"
INTERNAL_ERROR_CODE = "internal_error"
# validate_chat_request names fields by their chat path; a batch row has `image` and `prompt` instead.
IMAGE_PARAM = "messages[0].content[0].image_url.url"

Status = Literal["ok", "rejected", "error"]
InputFormat = Literal["auto", "images", "parquet"]


# --- configuration -----------------------------------------------------------------------------


class SamplingSettings(StrictConfig):
    """Chat request parameters sent with every row; validated by the service's ``validate_sampling_params``."""

    max_tokens: int | None = Field(None, description="None: the validation limits' `default_max_tokens`.")
    temperature: float = Field(DEFAULT_TEMPERATURE, description="0 is greedy decoding.")
    top_p: float | None = None
    seed: int | None = None
    stop: list[str] | None = None

    def params(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class JobConfig(StrictConfig):
    """What ``--config`` holds (YAML or JSON); command-line flags override it."""

    engine: EngineConfig = Field(default_factory=EngineConfig)
    validation: ValidationLimits = Field(default_factory=ValidationLimits)
    policy: PolicySettings = Field(default_factory=PolicySettings, description="As the PolicyFilter's user_config.")
    sampling: SamplingSettings = Field(default_factory=SamplingSettings)
    audit: AuditConfig | None = Field(None, description="Audit log of every decision; null (default) disables it.")


class WorkerSettings(StrictConfig):
    """Everything an actor needs; every path is absolute (actors may run in another directory)."""

    job: JobConfig
    output_dir: str
    image_root: str = Field(description="Directory that relative `image_path` and `prompt_path` resolve against.")
    default_prompt: str = DEFAULT_PROMPT
    max_running: int = Field(
        DEFAULT_BATCH_SIZE, gt=0, description="Sequences the actor's engine decodes together: the rows of a batch."
    )


@dataclass
class RunSummary:
    output: str
    inputs: int
    already_done: int
    processed: int
    statuses: dict[str, int]
    input_blocked: int
    output_blocked: int
    remaining: int
    """Inputs without an output row after this run (non-zero after ``--limit`` or a failure)."""
    duplicates: int
    quarantined: list[str]
    retried: int
    """Rows of status "error" removed from the output to be done again (``--retry-errors``)."""


def load_job_config(path: Path | None, serve_config: Path | None) -> JobConfig:
    if path is not None:
        return JobConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    if serve_config is not None:
        return job_config_from_serve(yaml.safe_load(serve_config.read_text(encoding="utf-8")))
    return JobConfig()


def job_config_from_serve(data: dict[str, Any]) -> JobConfig:
    """Engine, validation limits and policy of the service's application in a Serve config file.

    A deployment's ``user_config`` in the file replaces the one ``build_app`` derives from ``args``, as
    Serve does. Audit settings are not taken over: pass ``--audit-url`` to audit a batch job.
    """
    apps = data.get("applications") or []
    app = next((a for a in apps if a.get("import_path") == SERVE_IMPORT_PATH), None)
    if app is None:
        raise ValueError(f"no application with import_path {SERVE_IMPORT_PATH} in the Serve config")
    args = app.get("args") or {}
    deployments = {d.get("name"): d for d in app.get("deployments") or []}
    validator = deployments.get(VALIDATOR_DEPLOYMENT, {}).get("user_config") or args.get("validation") or {}
    policy = deployments.get(POLICY_DEPLOYMENT, {}).get("user_config") or args.get("policy") or {}
    return JobConfig(engine=args.get("engine") or {}, validation=_limits_of(validator), policy=policy)


def _limits_of(validator: dict[str, Any]) -> ValidationLimits:
    """The input limits of the Validator's ``user_config``, checked whole (a typo still fails), without
    the replica's own capacity (decode slots): an actor of the job decodes one row at a time."""
    checked = ValidatorUserConfig.model_validate(validator)
    return ValidationLimits.model_validate(checked.model_dump(include=set(ValidationLimits.model_fields)))


def build_job_config(args: argparse.Namespace) -> JobConfig:
    """The config file (if any) with the command-line flags on top; paths made absolute."""
    base = load_job_config(args.config, args.serve_config)
    engine = base.engine.model_dump(exclude_unset=True)
    flags = {
        "model": args.model,
        "served_model_name": args.served_model_name,
        "revision": args.revision,
        "dtype": args.dtype,
        "device": args.device,
        "quantization": args.quantization,
        "torch_threads": args.torch_threads,
    }
    engine |= {k: v for k, v in flags.items() if v is not None}
    if args.local_files_only:
        engine["local_files_only"] = True
    if "model" not in engine:
        raise ValueError("no model: pass --model (or `engine.model` in the config file)")
    local_model = Path(resolve_path(engine["model"]))
    if local_model.is_dir():
        engine["model"] = str(local_model)
    sampling = base.sampling.model_dump(exclude_unset=True)
    sampling |= {
        k: v
        for k, v in {"max_tokens": args.max_tokens, "temperature": args.temperature, "seed": args.seed}.items()
        if v is not None
    }
    policy = base.policy.model_copy(update={"policy_file": resolve_path(args.policy or base.policy.policy_file)})
    audit = base.audit
    if args.audit_url is not None:
        journal = args.audit_journal_dir or (audit.journal_dir if audit else DEFAULT_AUDIT_JOURNAL_DIR)
        audit = AuditConfig(**(audit.model_dump() if audit else {}) | {"url": args.audit_url, "journal_dir": journal})
    job = JobConfig(
        engine=EngineConfig.model_validate(engine),
        validation=base.validation,
        policy=policy,
        sampling=SamplingSettings.model_validate(sampling),
        audit=audit.resolved(resolve_path) if audit else None,
    )
    validate_sampling_params(job.sampling.params(), job.validation)  # a bad flag fails now, not on every row
    return job


def resolve_device(job: JobConfig) -> JobConfig:
    """``auto`` becomes ``cuda`` when the cluster has GPUs (the actors then reserve one), else ``cpu``."""
    if job.engine.device != "auto":
        return job
    import ray

    device = "cuda" if ray.cluster_resources().get("GPU", 0) > 0 else "cpu"
    return job.model_copy(update={"engine": job.engine.model_copy(update={"device": device})})
