"""Offline moderation: the service's validation, VLM engine and content policy as one Ray Data job.

Usage (from the project root)::

    python -m jobs.batch_moderate --input photos/ --output moderated/ \\
        --model Qwen/Qwen3-VL-8B-Instruct --device cuda --batch-size 16 --num-actors 2

    python -m jobs.batch_moderate --input requests.parquet --output moderated/ \\
        --model .cache/tiny-qwen3-vl --dtype float32 --device cpu --serve-config configs/cpu.yaml

Input (``--input``):

* a directory of images (``.jpg .jpeg .png .webp .gif``, searched recursively; names starting with
  ``.`` or ``_`` are skipped). A row's ``id`` is the image's path relative to the directory; its prompt
  is the sidecar ``NAME.png.txt`` or ``NAME.txt`` next to the image (stripped), else ``--prompt``;
* or a Parquet file or directory with the columns ``id`` (unique), ``prompt`` (null: ``--prompt``),
  and ``image`` (bytes, nullable) and/or ``image_path`` (relative paths resolve against the directory
  of the Parquet input). A row without an image is a text-only request.

Each row goes the service's way: ``validate_chat_request`` (the image travels as Base64, so its type
is sniffed from its bytes as for an API client), the input policy check on its text and images (a
blocked input never reaches the model), ``VLMEngine.generate_batch`` on the batch's unblocked rows,
then the output policy check. Decisions are audited with ``--audit-url`` (off by default).

Output (``--output``): Parquet parts ``part-<hash>.parquet``, one row per input (``ResultRow``),
each part written by the actor that processed its batch, to a hidden temporary file first and then
renamed, so a part is either complete or absent. Read it with ``pandas.read_parquet(OUT)``.

Resume: a run first reads the ids already in ``OUT`` (parts that cannot be read are renamed to
``.<name>.corrupt`` and their rows done again; stale temporary files are deleted) and processes only
the others, so rerunning the same command after a crash finishes the job without redoing rows. A
part's name is a hash of its ids, so a batch that Ray retries replaces its own part rather than
adding a copy. One job at a time per ``OUT``. Rows are final once written, whatever their status;
``--retry-errors`` first removes the rows of status ``error`` (engine or audit failures, e.g. out of
memory) from their parts, so that they are done again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pybase64
import yaml
from pydantic import BaseModel, ConfigDict, Field

from pipelines.audit import AuditConfig, AuditLog
from pipelines.audit.journal import fsync_dir
from pipelines.core.errors import InvalidRequestError, ServiceError
from pipelines.core.paths import resolve_path
from pipelines.core.types import GenerationRequest, GenerationResult
from pipelines.engine.vlm import EngineConfig, VLMEngine
from pipelines.inputs.validation import ValidationLimits, validate_chat_request, validate_sampling_params
from pipelines.moderation.images.screeners import Generate, build_image_screeners
from pipelines.moderation.moderator import Moderator, openai_moderation
from pipelines.moderation.policy.config import load_policy
from pipelines.moderation.policy.engine import PolicyDecision
from pipelines.moderation.text.layers import LayersConfig, build_text_layers
from serve_app.ops.ray_auth import use_cluster_token

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif"})
PARQUET_SUFFIX = ".parquet"
SIDECAR_SUFFIX = ".txt"
DEFAULT_PROMPT = "Describe this image."
DEFAULT_POLICY_FILE = "configs/policy.yaml"
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
HIDDEN_PREFIX = "."  # pyarrow, pandas and Ray Data skip files whose names start with it
TMP_SUFFIX = ".tmp"
CORRUPT_SUFFIX = ".corrupt"
RETRY_STATUSES = frozenset({"error"})  # transient failures (out of memory, audit outage); rejections are final

# The service's deploy config (configs/*.yaml) can stand in for a job config: same engine, limits, policy.
SERVE_IMPORT_PATH = "serve_app.app:build_app"
VALIDATOR_DEPLOYMENT = "Validator"
POLICY_DEPLOYMENT = "PolicyFilter"

FIRST_SERVER_ERROR_STATUS = 500  # a ServiceError below it is the input's fault ("rejected"), else "error"
INTERNAL_ERROR_CODE = "internal_error"
# validate_chat_request names fields by their chat path; a batch row has `image` and `prompt` instead.
_IMAGE_PARAM = "messages[0].content[0].image_url.url"

Status = Literal["ok", "rejected", "error"]
InputFormat = Literal["auto", "images", "parquet"]


# --- configuration -----------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicySettings(_Strict):
    """The PolicyFilter deployment's ``user_config`` fields (``serve_app.config.PolicyUserConfig``)."""

    policy_file: str = Field(DEFAULT_POLICY_FILE, description="Policy YAML.")
    extra_terms: dict[str, list[str]] = Field(default_factory=dict, description="Extra terms per category.")
    layers: LayersConfig = Field(default_factory=LayersConfig, description="Classifier, guard and image layers.")


class SamplingSettings(_Strict):
    """Chat request parameters sent with every row; validated by the service's ``validate_sampling_params``."""

    max_tokens: int | None = Field(None, description="None: the validation limits' `default_max_tokens`.")
    temperature: float = Field(DEFAULT_TEMPERATURE, description="0 is greedy decoding.")
    top_p: float | None = None
    seed: int | None = None
    stop: list[str] | None = None

    def params(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class JobConfig(_Strict):
    """What ``--config`` holds (YAML or JSON); command-line flags override it."""

    engine: EngineConfig = Field(default_factory=EngineConfig)
    validation: ValidationLimits = Field(default_factory=ValidationLimits)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    sampling: SamplingSettings = Field(default_factory=SamplingSettings)
    audit: AuditConfig | None = Field(None, description="Audit log of every decision; null (default) disables it.")


class WorkerSettings(_Strict):
    """Everything an actor needs; every path is absolute (actors may run in another directory)."""

    job: JobConfig
    output_dir: str
    image_root: str = Field(description="Directory that relative `image_path` and `prompt_path` resolve against.")
    default_prompt: str = DEFAULT_PROMPT


# --- rows --------------------------------------------------------------------------------------


@dataclass
class InputRow:
    """One input. ``prompt`` None: read ``prompt_path`` if set, else the default prompt. Image: ``image``
    bytes if set, else the file ``image_path``, else none (a text-only request)."""

    id: str
    prompt: str | None = None
    image: bytes | None = None
    image_path: str | None = None
    prompt_path: str | None = None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> InputRow:
        return cls(**{f.name: record.get(f.name) for f in fields(cls)} | {"id": str(record["id"])})


@dataclass
class ResultRow:
    """One output row: the decision fields of a chat completion (``prompt_filter_results``,
    ``content_filter_results``, ``finish_reason``, ``usage``) summarised."""

    id: str
    request_id: str
    status: Status
    policy_version: str
    model_version: str
    processed_at: str
    error_code: str | None = None
    error_param: str | None = None
    error_message: str | None = None
    text: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    input_action: str | None = None
    input_blocked: bool = False
    input_flagged: bool = False
    input_categories: list[str] = field(default_factory=list)
    input_openai_categories: list[str] = field(default_factory=list)
    output_action: str | None = None
    output_blocked: bool = False
    output_flagged: bool = False
    output_categories: list[str] = field(default_factory=list)
    blocked: bool = False
    flagged: bool = False
    prompt_filter_results: str | None = None
    """JSON: the input decision per category, as the API's ``prompt_filter_results[0].content_filter_results``."""
    content_filter_results: str | None = None
    """JSON: the output decision per category, as the API's ``choices[0].content_filter_results``."""


_STR = pa.string()
_STR_LIST = pa.list_(pa.string())
OUTPUT_SCHEMA = pa.schema(
    [
        pa.field("id", _STR, nullable=False),
        pa.field("request_id", _STR, nullable=False),
        pa.field("status", _STR, nullable=False),
        pa.field("policy_version", _STR, nullable=False),
        pa.field("model_version", _STR, nullable=False),
        pa.field("processed_at", _STR, nullable=False),
        pa.field("error_code", _STR),
        pa.field("error_param", _STR),
        pa.field("error_message", _STR),
        pa.field("text", _STR),
        pa.field("finish_reason", _STR),
        pa.field("prompt_tokens", pa.int64(), nullable=False),
        pa.field("completion_tokens", pa.int64(), nullable=False),
        pa.field("input_action", _STR),
        pa.field("input_blocked", pa.bool_(), nullable=False),
        pa.field("input_flagged", pa.bool_(), nullable=False),
        pa.field("input_categories", _STR_LIST, nullable=False),
        pa.field("input_openai_categories", _STR_LIST, nullable=False),
        pa.field("output_action", _STR),
        pa.field("output_blocked", pa.bool_(), nullable=False),
        pa.field("output_flagged", pa.bool_(), nullable=False),
        pa.field("output_categories", _STR_LIST, nullable=False),
        pa.field("blocked", pa.bool_(), nullable=False),
        pa.field("flagged", pa.bool_(), nullable=False),
        pa.field("prompt_filter_results", _STR),
        pa.field("content_filter_results", _STR),
    ]
)


def category_results(decision: PolicyDecision) -> dict[str, dict[str, Any]]:
    """Per category, the fields of the API's ``CategoryResultOut`` (``serve_app.serving.chat.category_results``)."""
    return {
        name: {
            "filtered": r.filtered,
            "detected": r.detected,
            "score": r.score,
            "action": r.action,
            "spans": [list(span) for span in r.spans],
        }
        for name, r in decision.categories.items()
    }


def request_text(request: GenerationRequest) -> str:
    """What the input policy screens: every text the caller wrote (``serve_app.serving.chat.request_text``)."""
    return "\n".join(m.text for m in request.messages if m.text)


def app_version() -> str:
    try:
        return version("qwen-vl-serve")
    except PackageNotFoundError:
        return "0+unknown"


# --- the per-batch work (one instance per Ray actor) ------------------------------------------


@dataclass
class _Admitted:
    """A row that passed validation and the input policy, waiting for the engine."""

    index: int
    row: InputRow
    request: GenerationRequest
    prompt: str
    input_decision: PolicyDecision


class ModerationWorker:
    """Loads the engine and the policy once; each call moderates one batch and writes its part.

    Used as a Ray Data callable class (``__call__`` on Arrow batches) and, without Ray, through
    :meth:`process` (``engine`` lets tests share one loaded model).
    """

    def __init__(self, settings: WorkerSettings | dict[str, Any], engine: VLMEngine | None = None) -> None:
        self.settings = WorkerSettings.model_validate(settings)
        job = self.settings.job
        self.limits = job.validation
        self.params = job.sampling.params()
        self.output_dir = Path(self.settings.output_dir)
        self.image_root = Path(self.settings.image_root)
        self.engine = engine if engine is not None else VLMEngine(job.engine)
        self.model_version = self.engine.config.version
        # As the PolicyFilter deployment: the policy's `audit_keep_content` decides, so the log keeps all.
        self.audit = AuditLog(job.audit.model_copy(update={"keep_content": True})) if job.audit else None
        self.moderator = build_moderator(job, self.audit, self.model_version, self._generate_or_raise)

    def __call__(self, batch: pa.Table) -> pa.Table:
        results = self.process([InputRow.from_record(r) for r in batch.to_pylist()])
        self.flush_audit()
        write_part(self.output_dir, results)
        return pa.table(
            {
                "id": [r.id for r in results],
                "status": [r.status for r in results],
                "input_blocked": [r.input_blocked for r in results],
                "output_blocked": [r.output_blocked for r in results],
            }
        )

    def process(self, rows: Sequence[InputRow]) -> list[ResultRow]:
        """One result per row, in order; a row's failure never affects the others."""
        results: list[ResultRow | None] = [None] * len(rows)
        admitted: list[_Admitted] = []
        for index, row in enumerate(rows):
            request_id = uuid.uuid4().hex
            try:
                request = self.validate(row, request_id)
                prompt = request_text(request)
                decision = self.moderator.check(prompt, "input", request_id, images=request.images)
            except Exception as exc:  # noqa: BLE001 - one bad row fails alone
                results[index] = self._failed(row.id, request_id, exc)
                continue
            if decision.blocked:
                results[index] = self._result(row.id, request_id, decision, None, None)
            else:
                admitted.append(_Admitted(index, row, request, prompt, decision))
        for item, generated in zip(admitted, self._generate([a.request for a in admitted]), strict=True):
            rid = item.request.request_id
            try:
                if isinstance(generated, BaseException):
                    raise generated
                output = self.moderator.check(generated.text, "output", rid, prompt=item.prompt)
                results[item.index] = self._result(item.row.id, rid, item.input_decision, output, generated)
            except Exception as exc:  # noqa: BLE001 - one bad row fails alone
                results[item.index] = self._failed(item.row.id, rid, exc)
        return [r for r in results if r is not None]

    # -- steps ---------------------------------------------------------------------------------

    def validate(self, row: InputRow, request_id: str) -> GenerationRequest:
        """The row as an OpenAI chat message through ``validate_chat_request``; errors name ``image``/``prompt``."""
        prompt = self._prompt(row)
        image = self._image(row)
        content: list[dict[str, Any]] = []
        if image is not None:
            content.append({"type": "image_url", "image_url": {"url": pybase64.b64encode(image).decode("ascii")}})
        content.append({"type": "text", "text": prompt})
        text_param = f"messages[0].content[{len(content) - 1}].text"
        aliases = {_IMAGE_PARAM: "image", text_param: "prompt", "messages": "prompt"}
        try:
            return validate_chat_request([{"role": "user", "content": content}], self.params, self.limits, request_id)
        except ServiceError as err:
            if err.param not in aliases:
                raise
            raise type(err)(err.message, param=aliases[err.param], code=err.code) from None

    def _prompt(self, row: InputRow) -> str:
        if row.prompt is not None:
            return row.prompt
        if row.prompt_path is None:
            return self.settings.default_prompt
        try:
            text = (self.image_root / row.prompt_path).read_text(encoding="utf-8").strip()
        except UnicodeDecodeError:
            raise InvalidRequestError(
                "The prompt file is not valid UTF-8.", param="prompt", code="invalid_text"
            ) from None
        except OSError:
            raise InvalidRequestError(
                "The prompt file could not be read.", param="prompt", code="prompt_unreadable"
            ) from None
        return text or self.settings.default_prompt

    def _image(self, row: InputRow) -> bytes | None:
        if row.image is not None:
            return row.image
        if row.image_path is None:
            return None
        # One byte past the limit is enough for the validator to refuse an oversized file with its own error.
        limit = self.limits.max_image_encoded_bytes + 1
        try:
            with (self.image_root / row.image_path).open("rb") as handle:
                return handle.read(limit)
        except OSError:
            raise InvalidRequestError(
                "The image file could not be read.", param="image_path", code="image_unreadable"
            ) from None

    def _generate(self, requests: list[GenerationRequest]) -> list[GenerationResult | BaseException]:
        if not requests:
            return []
        try:
            return list(self.engine.generate_batch(requests))
        except Exception as exc:  # the engine returns errors as values; anything else fails the batch
            logger.exception("generation failed for a batch of %d", len(requests))
            return [exc] * len(requests)

    def _generate_or_raise(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """The image screener's VLM question, answered by this actor's engine."""
        results = self.engine.generate_batch(requests)
        for result in results:
            if isinstance(result, ServiceError):
                raise result
        return results  # type: ignore[return-value]

    def flush_audit(self) -> None:
        """Commit this batch's decisions before its part exists (a finished row is an audited row)."""
        if self.audit is not None and not self.audit.flush(timeout_s=self.audit.config.close_timeout_s):
            logger.warning("audit records are still pending in the journal: %s", self.audit.health()["last_error"])

    # -- rows ----------------------------------------------------------------------------------

    def _base(self, row_id: str, request_id: str, status: Status) -> ResultRow:
        return ResultRow(
            id=row_id,
            request_id=request_id,
            status=status,
            policy_version=self.moderator.policy.version,
            model_version=self.model_version,
            processed_at=datetime.now(UTC).isoformat(),
        )

    def _failed(self, row_id: str, request_id: str, exc: BaseException) -> ResultRow:
        if not isinstance(exc, ServiceError):
            logger.error("row %s failed", row_id, exc_info=exc)
            exc = ServiceError("Internal error while processing the row.", code=INTERNAL_ERROR_CODE)
        status: Status = "rejected" if exc.status < FIRST_SERVER_ERROR_STATUS else "error"
        row = self._base(row_id, request_id, status)
        row.error_code, row.error_param, row.error_message = exc.code, exc.param, exc.message
        return row

    def _result(
        self,
        row_id: str,
        request_id: str,
        input_decision: PolicyDecision,
        output_decision: PolicyDecision | None,
        generated: GenerationResult | None,
    ) -> ResultRow:
        """As ``serve_app.serving.chat.Completion``: text, finish_reason and usage of a (maybe blocked) answer."""
        row = self._base(row_id, request_id, "ok")
        # Only the booleans are kept (as /v1/moderations' `categories`); they do not depend on the input types.
        moderation = openai_moderation(input_decision, has_text=True, has_image=False)
        row.input_action = input_decision.action
        row.input_blocked = input_decision.blocked
        row.input_flagged = input_decision.action != "allow"
        row.input_categories = input_decision.fired
        row.input_openai_categories = [name for name, hit in moderation.categories.items() if hit]
        row.prompt_filter_results = json.dumps(category_results(input_decision))
        row.content_filter_results = json.dumps(category_results(output_decision) if output_decision else {})
        if output_decision is not None:
            row.output_action = output_decision.action
            row.output_blocked = output_decision.blocked
            row.output_flagged = output_decision.action != "allow"
            row.output_categories = output_decision.fired
        row.blocked = row.input_blocked or row.output_blocked
        row.flagged = row.input_flagged or row.output_flagged
        row.text = output_decision.text if output_decision is not None else input_decision.text
        if generated is not None:
            row.prompt_tokens, row.completion_tokens = generated.prompt_tokens, generated.completion_tokens
        row.finish_reason = "content_filter" if row.blocked or generated is None else generated.finish_reason
        return row

    def __del__(self) -> None:
        if getattr(self, "audit", None) is not None:
            self.audit.close()


def build_moderator(job: JobConfig, audit: AuditLog | None, model_name: str, generate: Generate) -> Moderator:
    """The PolicyFilter deployment's Moderator: policy file plus extra terms, text layers, image screeners."""
    policy = load_policy(job.policy.policy_file)
    for category, terms in job.policy.extra_terms.items():
        policy = policy.with_extra_terms(category, terms)
    return Moderator(
        policy,
        text_layers=build_text_layers(job.policy.layers),
        image_screeners=build_image_screeners(job.policy.layers.image, generate=generate),
        audit=audit,
        audit_fail_mode=job.audit.fail_mode if job.audit else "fail_open",
        model_name=model_name,
        app_version=app_version(),
    )


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
    final = out_dir / part_name(r.id for r in rows)
    tmp = out_dir / f"{HIDDEN_PREFIX}{final.name}.{uuid.uuid4().hex}{TMP_SUFFIX}"
    try:
        pq.write_table(table, tmp)
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(out_dir)
    return final


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
    else:
        tmp = path.with_name(f"{HIDDEN_PREFIX}{path.name}.{uuid.uuid4().hex}{TMP_SUFFIX}")
        try:
            pq.write_table(keep.cast(OUTPUT_SCHEMA), tmp)
            with tmp.open("rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


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


# --- the job ----------------------------------------------------------------------------------


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
    validation = deployments.get(VALIDATOR_DEPLOYMENT, {}).get("user_config") or args.get("validation") or {}
    policy = deployments.get(POLICY_DEPLOYMENT, {}).get("user_config") or args.get("policy") or {}
    return JobConfig(engine=args.get("engine") or {}, validation=validation, policy=policy)


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


def _resolve_device(job: JobConfig) -> JobConfig:
    """``auto`` becomes ``cuda`` when the cluster has GPUs (the actors then reserve one), else ``cpu``."""
    if job.engine.device != "auto":
        return job
    import ray

    device = "cuda" if ray.cluster_resources().get("GPU", 0) > 0 else "cpu"
    return job.model_copy(update={"engine": job.engine.model_copy(update={"device": device})})


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
        job = _resolve_device(plan.job)
        dataset = build_dataset(plan, before.ids, args.limit)
        if dataset is not None:
            settings = WorkerSettings(
                job=job, output_dir=str(plan.out_dir), image_root=str(plan.image_root), default_prompt=args.prompt
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


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Through the package name, so Ray pickles ModerationWorker by reference, not as a `__main__` class.
    from jobs.batch_moderate import main as _main

    _main()
