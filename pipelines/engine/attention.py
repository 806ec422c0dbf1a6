"""Decode attention over the slot KV cache, plugged into the unmodified model.

Two backends, one decode step:

- **SDPA** (CPU, tests, GPUs without flash-attn): the step passes a 4-D boolean mask, a view of a
  fixed ``(slots, max_len)`` buffer in which each row's own length is set. ``transformers`` uses a
  4-D mask as given (no mask building, no host sync) and its SDPA path runs grouped-query decode
  attention without repeating K/V.
- **flash-attn**: ``flash_attn_with_kvcache(q, k_cache, v_cache, cache_seqlens=...)`` reads each
  row's own length straight from the ``(slot, token, head, dim)`` buffers: no mask, no padding,
  no unpad ``nonzero``. It is registered with ``transformers``' ``AttentionInterface`` under
  :data:`SLOT_FLASH` on the text model only; outside a slot decode step (prefill, ``generate``) it
  hands over to the stock ``flash_attention_2`` function, so nothing else changes.

The step tells the attention function it is a slot decode through the ``slot_decode`` keyword,
which ``transformers`` forwards from the model's ``forward`` to every attention call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, flash_attention_mask

from pipelines.engine.kv_cache import Layout, SlotKVCache

Backend = Literal["sdpa", "flash"]
SLOT_FLASH = "qvs_slot_flash_attention_2"


@dataclass(frozen=True)
class SlotDecode:
    """What the flash backend needs in every layer of one decode step."""

    cache: SlotKVCache
    lengths: torch.Tensor  # (rows,) int32 on the device: each row's length including the new token


def backend_for(model: Any) -> Backend:
    """flash when the text model runs FlashAttention 2 (``flash-attn`` installed, CUDA), else SDPA."""
    implementation = model.config.text_config._attn_implementation
    return "flash" if implementation in ("flash_attention_2", SLOT_FLASH) else "sdpa"


def cache_layout(backend: Backend) -> Layout:
    return "blhd" if backend == "flash" else "bhld"


def slot_flash_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    slot_decode: SlotDecode | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """``flash_attn_with_kvcache`` on the slot buffers during a decode step; stock FA2 otherwise."""
    if slot_decode is None:
        from transformers.integrations.flash_attention import flash_attention_forward

        return flash_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    from flash_attn import flash_attn_with_kvcache  # the `gpu` extra

    rows = query.shape[0]
    k_cache, v_cache = slot_decode.cache.layer_buffers(module.layer_idx)
    out = flash_attn_with_kvcache(
        query.transpose(1, 2),  # (rows, 1, heads, dim)
        k_cache[:rows],
        v_cache[:rows],
        cache_seqlens=slot_decode.lengths,
        softmax_scale=scaling,
        causal=True,
    )
    return out, None


def install(model: Any) -> Backend:
    """Route the text model's attention through :func:`slot_flash_attention` when it runs flash; idempotent."""
    backend = backend_for(model)
    if backend == "flash":
        AttentionInterface.register(SLOT_FLASH, slot_flash_attention)
        AttentionMaskInterface.register(SLOT_FLASH, flash_attention_mask)
        model.set_attn_implementation({"text_config": SLOT_FLASH})  # the text model only; vision keeps FA2
    return backend
