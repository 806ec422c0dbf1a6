"""The job's rows: ``InputRow`` in, ``ResultRow`` out, and the output's Parquet schema derived from it."""

from __future__ import annotations

import logging
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import pyarrow as pa

from jobs.batch_moderate.settings import Status

logger = logging.getLogger(__name__)

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


def arrow_schema(row_type: type) -> pa.Schema:
    """The Parquet schema of a row dataclass, from its annotations: one definition of the output row."""
    fields_out = []
    for name, hint in typing.get_type_hints(row_type).items():
        args = typing.get_args(hint)
        nullable = type(None) in args
        if nullable:
            hint = next(a for a in args if a is not type(None))
        fields_out.append(pa.field(name, _arrow_type(hint), nullable=nullable))
    return pa.schema(fields_out)


def _arrow_type(hint: object) -> pa.DataType:
    if hint is bool:
        return pa.bool_()
    if hint is int:
        return pa.int64()
    if hint is str or typing.get_origin(hint) is Literal:
        return pa.string()
    if typing.get_origin(hint) is list and typing.get_args(hint) == (str,):
        return pa.list_(pa.string())
    raise TypeError(f"no Arrow type for {hint!r}")


OUTPUT_SCHEMA = arrow_schema(ResultRow)
