"""One moderation decision, as journaled and stored."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, FiniteFloat, StringConstraints, field_validator

Direction = Literal["input", "output"]
Action = Literal["allow", "flag", "redact", "block"]
# How ``content_sha256`` was computed: keyed with the deployment's digest key, or (records written
# before keyed digests) a bare SHA-256, which anyone can recompute for a guessed text.
DigestScheme = Literal["hmac-sha256", "sha256"]
KEYED_DIGEST: DigestScheme = "hmac-sha256"

# Column sizes: MySQL needs a length on every indexed VARCHAR, so the model enforces them.
ID_LEN = 32
SHA256_LEN = 64
DIGEST_SCHEME_MAX_LEN = 16
REQUEST_ID_MAX_LEN = 128
LABEL_MAX_LEN = 64
MODEL_MAX_LEN = 128
EXTRA_MAX_BYTES = 4096

Label = Annotated[str, StringConstraints(min_length=1, max_length=LABEL_MAX_LEN)]


def new_record_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(UTC)


def content_digest(content: str | bytes, key: bytes) -> str:
    """Hex HMAC-SHA256 under ``key`` of text (as UTF-8) or of raw image bytes: without the key, a
    digest cannot be matched against guessed texts."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return hmac.new(key, data, hashlib.sha256).hexdigest()


class AuditRecord(BaseModel):
    """A moderation decision. ``id`` is the primary key, which makes journal replay idempotent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(
        default_factory=new_record_id, pattern=rf"^[0-9a-f]{{{ID_LEN}}}$", description="uuid4 hex; primary key."
    )
    request_id: str = Field(min_length=1, max_length=REQUEST_ID_MAX_LEN, description="The request this decides on.")
    created_at: AwareDatetime = Field(default_factory=utc_now, description="Decision time; normalised to UTC.")
    direction: Direction = Field(description="Whether the model input or the model output was moderated.")
    action: Action = Field(description="What the policy did.")
    categories: list[Label] = Field(default_factory=list, description="Categories that fired (deduplicated).")
    scores: dict[str, FiniteFloat] = Field(default_factory=dict, description="Score per category.")
    policy_version: Label = Field(description="Version of the policy that decided.")
    model: str | None = Field(None, max_length=MODEL_MAX_LEN, description="Model that produced the output, if any.")
    content_sha256: str = Field(
        pattern=rf"^[0-9a-f]{{{SHA256_LEN}}}$",
        description="Digest of the UTF-8 text or the image bytes, computed as `digest` says.",
    )
    digest: DigestScheme = Field(
        "sha256",
        description="`hmac-sha256`: keyed with the deployment's digest key; `sha256` (the default, for records "
        "journaled before keyed digests): bare SHA-256.",
    )
    content: str | None = Field(None, description="The text itself; kept only when the caller and config allow.")
    extra: dict[str, Any] = Field(
        default_factory=dict, description=f"Small JSON object (at most {EXTRA_MAX_BYTES} bytes encoded)."
    )

    @field_validator("created_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_validator("categories")
    @classmethod
    def _dedupe(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @field_validator("extra")
    @classmethod
    def _small_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            encoded = json.dumps(value, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"extra must be JSON-serialisable: {exc}") from None
        if len(encoded.encode("utf-8")) > EXTRA_MAX_BYTES:
            raise ValueError(f"extra is larger than {EXTRA_MAX_BYTES} bytes as JSON")
        return value

    @classmethod
    def for_content(
        cls, content: str | bytes, *, digest_key: bytes, keep_content: bool = False, **fields: Any
    ) -> AuditRecord:
        """Build a record for ``content``: always its keyed digest; the text itself only if ``keep_content``.

        Image bytes are never stored, only digested.
        """
        kept = content if keep_content and isinstance(content, str) else None
        digest = content_digest(content, digest_key)
        return cls(content_sha256=digest, digest=KEYED_DIGEST, content=kept, **fields)

    def without_content(self) -> AuditRecord:
        return self if self.content is None else self.model_copy(update={"content": None})
