"""Loading any Qwen3-VL checkpoint (Hub id or local directory) with the configured precision.

One code path loads ``Qwen/Qwen3-VL-8B-Instruct`` on a GPU (bfloat16, FlashAttention 2 when
``flash-attn`` imports, optionally bitsandbytes 8/4-bit) and the tiny random checkpoint built by
``devtools.tiny_model`` on a CPU.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from transformers import AutoProcessor, Qwen3VLForConditionalGeneration

from pipelines.engine.config import (
    EngineConfig,
    quantization_config,
    resolve_attention,
    resolve_device,
    resolve_dtype,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpecialTokens:
    """The ids generation needs: where a sequence ends, and what pads a batch."""

    eos: tuple[int, ...]
    pad: int


def load_model(config: EngineConfig) -> tuple[Qwen3VLForConditionalGeneration, Any]:
    """Load model and processor by Hub id or local path, as configured."""
    device = resolve_device(config)
    dtype = resolve_dtype(config, device)
    attention = resolve_attention(config, device)
    quant = quantization_config(config, dtype)
    if quant is not None and device.type != "cuda":
        raise ValueError("bitsandbytes quantization needs a CUDA device")
    common: dict[str, Any] = {"revision": config.revision, "local_files_only": config.local_files_only}
    processor = AutoProcessor.from_pretrained(config.model, **common)
    processor.tokenizer.padding_side = "left"
    model = Qwen3VLForConditionalGeneration.from_pretrained(
        config.model,
        dtype=dtype,
        attn_implementation=attention,
        quantization_config=quant,
        device_map={"": device.index or 0} if device.type == "cuda" else None,
        **common,
    )
    if quant is None and device.type != "cuda":
        model = model.to(device)
    model.eval()
    logger.info(
        "loaded %s (revision=%s) on %s dtype=%s attention=%s quantization=%s",
        config.model,
        config.revision,
        device,
        dtype,
        attention,
        config.quantization,
    )
    return model, processor


def special_tokens(model: Qwen3VLForConditionalGeneration, tokenizer: Any) -> SpecialTokens:
    """End-of-sequence ids from the generation config plus the tokenizer's, and the pad id."""
    eos = model.generation_config.eos_token_id
    ids = list(eos) if isinstance(eos, list) else [eos] if eos is not None else []
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else ids[0]
    return SpecialTokens(eos=tuple(ids), pad=pad)
