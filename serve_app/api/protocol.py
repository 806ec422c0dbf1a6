"""Wire schemas of the HTTP API (OpenAI-compatible plus the original design's body).

Requests are lenient like OpenAI's API: unknown fields are accepted and logged, never an error.
Value checks that need limits from the running config (sizes, caps) happen in the validator
deployment; here only the shape is checked.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

_LOGGED_FIELDS = 10
_LOGGED_NAME_CHARS = 64


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")

    def unknown_fields(self) -> list[str]:
        """What a log line may say about the fields we ignore: names (cut short) and sizes, never
        values, and at most a few of them (a client can send megabytes of unknown fields)."""
        extra = self.model_extra or {}
        described = [
            f"{name[:_LOGGED_NAME_CHARS]!r}({len(json.dumps(value, default=str))}B)"
            for name, value in sorted(extra.items())[:_LOGGED_FIELDS]
        ]
        if len(extra) > _LOGGED_FIELDS:
            described.append(f"+{len(extra) - _LOGGED_FIELDS} more")
        return described


# -- chat completions -------------------------------------------------------------------------


class ChatMessageIn(_Lenient):
    """Content parts stay plain dicts: the validator checks each part and names it in errors."""

    role: str
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None


class StreamOptions(_Lenient):
    include_usage: bool = False


class ChatCompletionRequest(_Lenient):
    messages: list[ChatMessageIn]
    model: str | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    n: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None

    def sampling_params(self) -> dict[str, Any]:
        """The decoding parameters as the validator takes them."""
        return {
            "max_tokens": self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "stop": self.stop,
            "n": self.n,
        }


class LegacyGenerateRequest(_Lenient):
    """The original design's body: one optional image, one prompt."""

    prompt: str
    image: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None


class CategoryResultOut(BaseModel):
    filtered: bool = Field(description="The category fired and its action changed the content (block/redact).")
    detected: bool = Field(description="The category's score reached its threshold.")
    score: float
    action: str
    spans: list[list[Any]] = Field(default_factory=list, description="[start, end, matched] in the text.")


class ImageFindingOut(BaseModel):
    """What an image screen found in one input image and the policy counted."""

    image_index: int = Field(description="Which input image, in request order (0-based).")
    category: str
    source: str = Field(description="ocr, code (QR/barcode) or nsfw.")
    layer: str = Field(description="The text layer (terms, patterns, classifier...) or the image classifier.")
    score: float
    text: str = Field(description="The matched OCR text or code payload; the NSFW class; empty for a verdict.")
    boxes: list[list[list[float]]] = Field(
        default_factory=list, description="Where in the image: quadrilaterals of four [x, y] corners, in pixels."
    )


class ModerationSummary(BaseModel):
    policy_version: str
    action: str = Field(description="Strongest action taken: block > redact > flag > allow.")
    blocked: bool
    categories: dict[str, CategoryResultOut]
    image_findings: list[ImageFindingOut] = Field(default_factory=list)


class PromptFilterResult(BaseModel):
    prompt_index: int = 0
    content_filter_results: dict[str, CategoryResultOut]
    image_findings: list[ImageFindingOut] = Field(default_factory=list)


class ChatMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None


class Choice(BaseModel):
    index: int = 0
    message: ChatMessageOut
    finish_reason: Literal["stop", "length", "content_filter"]
    logprobs: None = None
    content_filter_results: dict[str, CategoryResultOut] = Field(default_factory=dict)


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[Choice]
    usage: Usage
    system_fingerprint: str | None = None
    prompt_filter_results: list[PromptFilterResult] = Field(default_factory=list)
    policy_version: str


class DeltaOut(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: DeltaOut
    finish_reason: Literal["stop", "length", "content_filter"] | None = None
    logprobs: None = None
    content_filter_results: dict[str, CategoryResultOut] | None = Field(
        None, description="On the last chunk: the policy's decision on the whole answer."
    )


class ChatCompletionChunk(BaseModel):
    """One Server-Sent Event of a streamed chat completion (serialised without null fields)."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    prompt_filter_results: list[PromptFilterResult] | None = Field(
        None, description="On the first chunk: the policy's decision on the input."
    )
    policy_version: str | None = None


class LegacyGenerateResponse(BaseModel):
    text: str
    finish_reason: Literal["stop", "length", "content_filter"]
    request_id: str
    model: str
    usage: Usage
    moderation: dict[str, ModerationSummary] = Field(
        description="Outcome of the policy on the `input` and on the `output`."
    )


# -- moderations -------------------------------------------------------------------------------


class ModerationRequest(_Lenient):
    """OpenAI's moderation body: a string, a list of strings, or a list of text / image_url parts."""

    input: Any = Field(
        description="A string, a list of strings, or a list of `text` / `image_url` parts. Its shape is checked "
        "by the validator, whose errors name the exact part (`input[2].image_url.url`)."
    )
    model: str | None = None


class ModerationResult(BaseModel):
    flagged: bool
    categories: dict[str, bool]
    category_scores: dict[str, float]
    category_applied_input_types: dict[str, list[Literal["text", "image"]]]
    action: str = Field(description="What the policy would do with this input: allow, flag, redact or block.")
    policy_version: str
    category_results: dict[str, CategoryResultOut] = Field(description="Per policy category, with spans.")
    image_findings: list[ImageFindingOut] = Field(
        default_factory=list, description="Per input image: what its text, codes or NSFW classes fired."
    )


class ModerationResponse(BaseModel):
    id: str
    model: str
    results: list[ModerationResult]


class AuditDecisionOut(BaseModel):
    id: str
    request_id: str
    created_at: str
    direction: str
    action: str
    categories: list[str]
    scores: dict[str, float]
    policy_version: str
    model: str | None
    content_sha256: str = Field(description="Digest of the text, computed as `digest` says.")
    digest: str = Field(
        "sha256",
        description="`hmac-sha256`: keyed with the deployment's secret, so it cannot confirm a guessed text; "
        "`sha256`: a bare hash (records from before keyed digests).",
    )
    content: str | None
    extra: dict[str, Any] = Field(default_factory=dict, description="E.g. `image_sha256` of screened images.")


class DecisionQuery(BaseModel):
    """Query parameters of ``GET /v1/moderation/decisions``; unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime | None = Field(None, description="Inclusive lower bound, ISO 8601 with a timezone.")
    until: AwareDatetime | None = Field(None, description="Exclusive upper bound, ISO 8601 with a timezone.")
    category: str | None = Field(None, max_length=64, description="Only decisions where this category fired.")
    action: Literal["allow", "flag", "redact", "block"] | None = None
    direction: Literal["input", "output"] | None = None
    request_id: str | None = Field(None, max_length=128)
    limit: int = Field(100, ge=1, le=1000, description="Page size.")
    cursor: str | None = Field(None, max_length=512, description="`next_cursor` of the previous page.")


class AuditDecisionPage(BaseModel):
    object: Literal["list"] = "list"
    data: list[AuditDecisionOut]
    next_cursor: str | None


Direction = Literal["input", "output"]
Action = Literal["allow", "flag", "redact", "block"]
# `minute` / `hour` / `day` or whole seconds; nine digits (31 years) keep every backend's integers far from overflow
_BUCKET_PATTERN = r"^(minute|hour|day|[1-9][0-9]{0,8})$"


class StatsQuery(BaseModel):
    """Query parameters of ``GET /v1/moderation/stats``; unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime | None = Field(
        None, description="Inclusive lower bound, as for the decisions; default: `until` minus the configured window."
    )
    until: AwareDatetime | None = Field(None, description="Exclusive upper bound; default: now.")
    bucket: str = Field(
        "hour",
        pattern=_BUCKET_PATTERN,
        description="`minute`, `hour`, `day` or whole seconds. Buckets lie on the UTC epoch grid (an hour bucket "
        "starts on the hour), so the first and last may be partial.",
    )


class DecisionCountOut(BaseModel):
    start: AwareDatetime = Field(description="Start of the bucket (UTC).")
    direction: Direction
    action: Action
    count: int = Field(description="Decisions, each counted once.")


class CategoryCountOut(BaseModel):
    start: AwareDatetime = Field(description="Start of the bucket (UTC).")
    direction: Direction
    action: Action = Field(description="The decision's action (the strongest of its fired categories).")
    category: str | None = Field(description="A category that fired; null: the decisions where none fired.")
    count: int = Field(description="Decisions; one with two fired categories counts under each.")


class StatsTotalsOut(BaseModel):
    decisions: int
    by_action: dict[str, int]
    by_direction: dict[str, int]
    by_category: dict[str, int] = Field(description="Decisions in which each category fired.")
    without_category: int = Field(description="Decisions in which no category fired.")


class ModerationStats(BaseModel):
    """``GET /v1/moderation/stats``: grouped by the database; totals are sums of the grouped rows."""

    object: Literal["moderation.stats"] = "moderation.stats"
    bucket: str = Field(description="As asked: `minute`, `hour`, `day` or seconds.")
    bucket_seconds: int
    since: AwareDatetime
    until: AwareDatetime
    buckets: list[AwareDatetime] = Field(description="Start of every bucket of the range, empty ones included.")
    decisions: list[DecisionCountOut] = Field(description="Per bucket, direction and action; empty groups left out.")
    series: list[CategoryCountOut] = Field(description="Per bucket, direction, action and category.")
    totals: StatsTotalsOut


class PolicyCategoryOut(BaseModel):
    name: str
    description: str
    threshold: float = Field(description="Score at or above which the category fires.")
    input: Action = Field(description="Action when it fires on a user's input.")
    output: Action = Field(description="Action when it fires on the model's output.")
    terms: int = Field(description="How many terms (files and run-time extra terms included); not the terms.")
    patterns: int = Field(description="How many regex detectors.")


class PolicyLayersOut(BaseModel):
    """Which layers run, each on or off (a flat object: one switch per layer)."""

    terms: bool = Field(True, description="The term and pattern layers are always on.")
    classifier: bool
    profanity: bool
    guard: bool
    ocr: bool = Field(description="Image screen: the text in input images.")
    codes: bool = Field(description="Image screen: QR codes and barcodes.")
    nsfw: bool = Field(description="Image screen: nsfwjs's classes.")
    nudenet: bool = Field(description="Image screen: NudeNet (an opt-in extra).")
    vlm_question: bool = Field(description="Image screen: the served VLM asked about each image.")


class PolicyInfo(BaseModel):
    """``GET /v1/moderation/policy``: the loaded policy, read only."""

    object: Literal["moderation.policy"] = "moderation.policy"
    version: str
    digest: str = Field(description="SHA-256 of the effective policy and layer settings (the cache keys on it).")
    audit_keep_content: bool
    categories: list[PolicyCategoryOut] = Field(description="In the policy file's order.")
    layers: PolicyLayersOut
    guard_model: str | None = Field(description="The guard checkpoint, when the guard is on.")


# -- models, health, errors ---------------------------------------------------------------------


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "qwen-vl-serve"
    source: str = Field(description="Hub id or local directory the weights were loaded from.")
    revision: str | None = Field(description="Hub revision, or null for the default branch / a local directory.")
    quantization: str
    version: str = Field(
        description="`name@revision:quantization`, as in the `x-qvs-version` header and the audit log."
    )
    policy_version: str
    app_version: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class HealthStatus(BaseModel):
    status: Literal["ok", "not_ready", "draining"]
    checks: dict[str, bool] = Field(default_factory=dict)


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = Field(description="A stable string such as `payload_too_large`, as in OpenAI's API.")
    request_id: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
