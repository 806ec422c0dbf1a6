"""The per-batch work, one instance per Ray actor: validate, screen, generate, screen, one row each."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pybase64

from jobs.batch_moderate.rows import InputRow, ResultRow
from jobs.batch_moderate.settings import (
    FIRST_SERVER_ERROR_STATUS,
    IMAGE_PARAM,
    INTERNAL_ERROR_CODE,
    JobConfig,
    Status,
    WorkerSettings,
)
from jobs.batch_moderate.store import write_part
from pipelines.audit import AuditLog
from pipelines.core.errors import InvalidRequestError, ServiceError
from pipelines.core.types import GenerationRequest, GenerationResult
from pipelines.engine import create_engine, generate_all
from pipelines.engine.protocol import Engine
from pipelines.inputs.validation import validate_chat_request
from pipelines.moderation.images.screeners import Generate
from pipelines.moderation.images.screening import InProcessImageScreens
from pipelines.moderation.moderator import Moderator, openai_moderation
from pipelines.moderation.policy.engine import PolicyDecision
from pipelines.moderation.request_text import redacted_request, request_text
from pipelines.moderation.setup import (
    Layers,
    audit_log,
    build_moderator,
    configured_policy,
)
from serve_app.serving.decisions import category_results
from serve_app.version import APP_VERSION

logger = logging.getLogger(__name__)

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

    def __init__(self, settings: WorkerSettings | dict[str, Any], engine: Engine | None = None) -> None:
        self.settings = WorkerSettings.model_validate(settings)
        job = self.settings.job
        self.limits = job.validation
        self.params = job.sampling.params()
        self.output_dir = Path(self.settings.output_dir)
        self.image_root = Path(self.settings.image_root)
        # the continuous engine the VLM deployment runs (pipelines.engine.create_engine): same decoding
        self.engine = engine if engine is not None else create_engine(job.engine, max_running=self.settings.max_running)
        self.model_version = job.engine.version
        # As the PolicyFilter deployment: the policy's `audit_keep_content` decides, so the log keeps all.
        self.audit = audit_log(job.audit)
        self.moderator = build_job_moderator(job, self.audit, self.model_version, self._generate_or_raise)
        # the ImageScreen deployment's reader and the PolicyFilter's judge, in this process
        image = job.policy.layers.image
        self.image_screens = InProcessImageScreens(image, self.moderator) if image.read.enabled else None

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
                decision = self._check_input(row, request, prompt, request_id)
            except Exception as exc:  # noqa: BLE001 - one bad row fails alone
                results[index] = self._failed(row.id, request_id, exc)
                continue
            if decision.blocked:
                results[index] = self._result(row.id, request_id, decision, None, None)
            else:
                admitted.append(_Admitted(index, row, request, prompt, decision))
        redacted = [redacted_request(a.request, a.input_decision) for a in admitted]  # input: redact reaches the model
        for item, generated in zip(admitted, self._generate(redacted), strict=True):
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

    def _check_input(self, row: InputRow, request: GenerationRequest, prompt: str, request_id: str) -> PolicyDecision:
        """The input policy with the image screens, which read the row's own image (not the resized copy)."""
        if self.image_screens is None or not request.images:
            return self.moderator.check(prompt, "input", request_id, images=request.images)
        image = self._image(row)
        sources = [pybase64.b64encode(image).decode("ascii")] if image is not None else []
        return self.image_screens.check_input(self.moderator, prompt, request_id, request.images, sources)

    def validate(self, row: InputRow, request_id: str) -> GenerationRequest:
        """The row as an OpenAI chat message through ``validate_chat_request``; errors name ``image``/``prompt``."""
        prompt = self._prompt(row)
        image = self._image(row)
        content: list[dict[str, Any]] = []
        if image is not None:
            content.append({"type": "image_url", "image_url": {"url": pybase64.b64encode(image).decode("ascii")}})
        content.append({"type": "text", "text": prompt})
        text_param = f"messages[0].content[{len(content) - 1}].text"
        aliases = {IMAGE_PARAM: "image", text_param: "prompt", "messages": "prompt"}
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
            text = self._under_root(row.prompt_path, "prompt_path").read_text(encoding="utf-8").strip()
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
            with self._under_root(row.image_path, "image_path").open("rb") as handle:
                return handle.read(limit)
        except OSError:
            raise InvalidRequestError(
                "The image file could not be read.", param="image_path", code="image_unreadable"
            ) from None

    def _under_root(self, relative: str, param: str) -> Path:
        """``relative`` resolved against the image root, refused when it leaves it (``../``, an absolute
        path, a symlink pointing out): a Parquet row must not read any file the actor can."""
        root = self.image_root.resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root):
            raise InvalidRequestError(
                f"The {param} leaves the input directory.", param=param, code="path_outside_input"
            )
        return path

    def _generate(self, requests: list[GenerationRequest]) -> list[GenerationResult | BaseException]:
        if not requests:
            return []
        try:
            return list(generate_all(self.engine, requests))
        except Exception as exc:  # the engine returns errors as values; anything else fails the batch
            logger.exception("generation failed for a batch of %d", len(requests))
            return [exc] * len(requests)

    def _generate_or_raise(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """The image screener's VLM question, answered by this actor's engine."""
        results = generate_all(self.engine, requests)
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
        row.prompt_filter_results = json.dumps(_as_json(category_results(input_decision)))
        row.content_filter_results = json.dumps(_as_json(category_results(output_decision)) if output_decision else {})
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


def build_job_moderator(job: JobConfig, audit: AuditLog | None, model_name: str, generate: Generate) -> Moderator:
    """The PolicyFilter deployment's Moderator (pipelines/moderation/setup.py), for this job's settings."""
    return build_moderator(
        configured_policy(job.policy),
        Layers.build(job.policy.layers, generate),
        audit=audit,
        audit_fail_mode=job.audit.fail_mode if job.audit else "fail_open",
        model_name=model_name,
        app_version=APP_VERSION,
    )


def _as_json(results: dict[str, Any]) -> dict[str, Any]:
    return {name: result.model_dump() for name, result in results.items()}
