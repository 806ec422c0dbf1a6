"""How the engine loads and runs the model: the typed config and the resolvers that read it.

``EngineConfig`` is the VLM deployment's deploy-time ``args.engine`` (and the offline job's
``engine``); ``SchedulerConfig`` is its ``scheduler`` section, the continuous engine's static
sizes (KV-cache slots, prefill budget, CUDA graphs). Run-time knobs (``max_running``) live in the
deployment's ``user_config`` instead.
"""

from __future__ import annotations

import importlib.util
from typing import Annotated, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from transformers import BitsAndBytesConfig

DType = Literal["auto", "bfloat16", "float16", "float32"]
Attention = Literal["auto", "sdpa", "flash_attention_2", "eager"]
Quantization = Literal["none", "8bit", "4bit"]

# How a checkpoint is fetched and placed: the same fields in the VLM's config and in the guard's
# (pipelines/moderation/text/guard.py), both read by resolve_dtype / resolve_device.
HubRevision = Annotated[str | None, Field(description="Hub revision (branch, tag or commit) to load.")]
WeightsDType = Annotated[
    DType, Field(description="Weights dtype; `auto` picks bfloat16 on a GPU that supports it, else float32.")
]
Device = Annotated[Literal["auto", "cuda", "cpu"], Field(description="`auto` uses CUDA when available.")]
LocalFilesOnly = Annotated[bool, Field(description="Never contact the Hub (offline machines).")]

_TORCH_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
# CUDA-graph batch buckets: a decode step of B sequences replays the smallest bucket >= B.
DEFAULT_GRAPH_BATCH_SIZES = [1, 2, 4, 8, 16, 32, 48, 64]


class SchedulerConfig(BaseModel):
    """Static sizes of the continuous engine, fixed for the life of a replica."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_context_tokens: int = Field(
        4096,
        ge=16,
        le=262_144,
        description="KV-cache slot length per sequence (prompt + output tokens). The cache holds `max_running` "
        "slots of this length, allocated once; a prompt that does not fit is refused (400 "
        "`context_length_exceeded`) and generation stops with `length` at the slot's end.",
    )
    prefill_chunk_tokens: int = Field(
        1024,
        ge=16,
        description="Most prompt tokens prefilled per engine step; a longer prompt is prefilled in chunks over "
        "several steps, so the running sequences keep decoding meanwhile.",
    )
    cuda_graphs: bool = Field(
        True, description="Capture the decode step as CUDA graphs at warm-up (CUDA only; the CPU runs it eagerly)."
    )
    graph_batch_sizes: list[int] = Field(
        default_factory=lambda: list(DEFAULT_GRAPH_BATCH_SIZES),
        min_length=1,
        description="Batch-size buckets captured as CUDA graphs; a step of B sequences replays the smallest "
        "bucket >= B (and always one of exactly `max_running`).",
    )
    graph_min_context_tokens: int = Field(
        512,
        ge=16,
        description="Without FlashAttention, graphs are also bucketed by attended context length, in powers of "
        "two from this up to `max_context_tokens` (flash-attn reads only each row's own length).",
    )
    admission_threads: int = Field(
        2,
        ge=1,
        le=64,
        description="Threads that encode (chat template, image processing, tokenization) requests submitted "
        "unencoded, off the decode thread.",
    )
    max_consecutive_failures: int = Field(
        3, ge=1, description="Failed engine steps in a row after which the engine reports itself unhealthy."
    )
    idle_wait_s: float = Field(
        0.05, gt=0, le=5, description="How long the idle engine waits for a submission before checking again."
    )

    @model_validator(mode="after")
    def _check(self) -> SchedulerConfig:
        if any(size < 1 for size in self.graph_batch_sizes):
            raise ValueError("graph_batch_sizes must be positive")
        return self


class EngineConfig(BaseModel):
    """How to load and run the vision-language model."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(
        "Qwen/Qwen3-VL-8B-Instruct",
        description="Hugging Face model id or local directory of any Qwen3-VL checkpoint.",
    )
    served_model_name: str | None = Field(
        None, description="Name reported by the API (`model` field); defaults to `model`."
    )
    revision: HubRevision = None
    dtype: WeightsDType = "auto"
    device: Device = "auto"
    attn_implementation: Attention = Field(
        "auto", description="`auto` uses FlashAttention 2 when `flash-attn` imports and CUDA is used, else sdpa."
    )
    quantization: Quantization = Field(
        "none", description="bitsandbytes 8-bit or 4-bit (NF4) weights; the vision tower stays unquantised."
    )
    local_files_only: LocalFilesOnly = False
    torch_threads: int | None = Field(None, description="CPU threads for torch; None keeps torch's default.")
    warmup: bool = Field(True, description="Run one text and one image generation before reporting ready.")
    scheduler: SchedulerConfig = Field(
        default_factory=SchedulerConfig, description="Continuous engine: KV-cache slots, prefill budget, CUDA graphs."
    )

    @property
    def name(self) -> str:
        return self.served_model_name or self.model

    @property
    def version(self) -> str:
        """``name@revision:quantization``: what the API, response headers and the audit log report."""
        return f"{self.name}@{self.revision or 'default'}:{self.quantization}"


def resolve_device(config: EngineConfig) -> torch.device:
    if config.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(config.device)


def resolve_dtype(config: EngineConfig, device: torch.device) -> torch.dtype:
    if config.dtype != "auto":
        return _TORCH_DTYPES[config.dtype]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def flash_attn_available() -> bool:
    return importlib.util.find_spec("flash_attn") is not None


def resolve_attention(config: EngineConfig, device: torch.device) -> str:
    if config.attn_implementation != "auto":
        return config.attn_implementation
    if device.type == "cuda" and flash_attn_available():
        return "flash_attention_2"
    return "sdpa"


def quantization_config(config: EngineConfig, dtype: torch.dtype) -> BitsAndBytesConfig | None:
    """bitsandbytes settings that keep the vision tower and the LM head in full precision."""
    if config.quantization == "none":
        return None
    keep = ["visual", "lm_head"]
    if config.quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=keep)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=dtype,
        bnb_4bit_use_double_quant=True,
        llm_int8_skip_modules=keep,
    )
