"""A slot-based, preallocated KV cache: one buffer per layer, a row (slot) per running sequence.

Why: growing a ``DynamicCache`` copies every layer's K/V on every decode step, and joining or
leaving a batch re-pads and re-concatenates all layers. Here each layer's keys and values live in
one buffer of ``slots x max_len`` tokens allocated once. A sequence owns a slot for its life:

- prefill writes its prompt's K/V into its own slot (chunk by chunk), nothing else is touched;
- a decode step writes one new K/V column per row, at each row's own length, in place;
- leaving frees the slot (the next sequence overwrites it); nothing is ever copied or moved.

The cache is a ``transformers`` ``Cache`` subclass, so the unmodified Qwen3-VL model calls it from
each attention layer (``cache.update``). What an update does is set per forward by a plan:
:meth:`SlotKVCache.plan_prefill` (one slot, a chunk at an offset) or :meth:`SlotKVCache.plan_decode`
(rows ``[0, n)``, write positions on the device, one ``index_copy_`` per layer). Two layouts:
``(slot, head, token, dim)`` for SDPA, and ``(slot, token, head, dim)``, the layout
``flash_attn_with_kvcache`` reads in place.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Literal

import torch
from transformers.cache_utils import Cache, CacheLayerMixin

Layout = Literal["bhld", "blhd"]


@dataclass(frozen=True)
class CacheShape:
    """Sizes of the cache; ``bytes`` is what it allocates."""

    layers: int
    slots: int
    max_len: int
    kv_heads: int
    head_dim: int
    dtype: torch.dtype

    @property
    def bytes(self) -> int:
        element = torch.empty((), dtype=self.dtype).element_size()
        return 2 * self.layers * self.slots * self.max_len * self.kv_heads * self.head_dim * element

    @property
    def bytes_per_token(self) -> int:
        return self.bytes // (self.slots * self.max_len)


@dataclass(frozen=True)
class _Prefill:
    slot: int
    start: int  # tokens already in the slot
    length: int  # tokens in this chunk


@dataclass(frozen=True)
class _Decode:
    rows: int  # rows [0, rows) take part
    write_index: torch.Tensor  # flat positions of the new K/V in every layer's buffer (see write_index)
    attend: int  # columns [0, attend) are returned for attention
    longest: int  # the longest row after this step (host-known, no sync)


class SlotLayer(CacheLayerMixin):
    """One layer's view of the shared buffers; the owning cache holds the plan."""

    is_compileable = False
    is_sliding = False

    def __init__(self, owner: SlotKVCache, index: int) -> None:
        super().__init__()
        self.owner = owner
        self.index = index
        self.keys = owner.keys[index]
        self.values = owner.values[index]
        self.is_initialized = True

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        """Nothing to do: the buffers are allocated up front, with a fixed address (CUDA graphs)."""

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: object, **kwargs: object
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write the new K/V ((B, heads, q, dim), as the model computes them) and return what attention reads."""
        plan = self.owner.plan
        if isinstance(plan, _Prefill):
            return self.owner.write_prefill(self.index, key_states, value_states, plan)
        if isinstance(plan, _Decode):
            return self.owner.write_decode(self.index, key_states, value_states, plan)
        raise RuntimeError("SlotKVCache used without a prefill or decode plan")

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        plan = self.owner.plan
        if isinstance(plan, _Prefill):
            return plan.start + query_length, 0
        if isinstance(plan, _Decode):
            return plan.attend, 0
        return query_length, 0

    def get_seq_length(self) -> int:
        plan = self.owner.plan
        if isinstance(plan, _Prefill):
            return plan.start
        if isinstance(plan, _Decode):
            return plan.longest - 1
        return 0

    def get_max_length(self) -> int:
        return self.owner.shape.max_len


class SlotKVCache(Cache):
    """``shape.slots`` sequences of up to ``shape.max_len`` tokens, per layer, allocated once."""

    def __init__(self, shape: CacheShape, device: torch.device, layout: Layout = "bhld") -> None:
        self.shape = shape
        self.layout = layout
        dims = (
            (shape.slots, shape.kv_heads, shape.max_len, shape.head_dim)
            if layout == "bhld"
            else (shape.slots, shape.max_len, shape.kv_heads, shape.head_dim)
        )
        self.keys = [torch.zeros(dims, dtype=shape.dtype, device=device) for _ in range(shape.layers)]
        self.values = [torch.zeros(dims, dtype=shape.dtype, device=device) for _ in range(shape.layers)]
        self.plan: _Prefill | _Decode | None = None
        self.bytes_written = 0  # new K/V only: the cache never copies what it holds
        slots = torch.arange(shape.slots, device=device)
        if layout == "bhld":  # row r, head h, column c -> (r * heads + h) * max_len + c
            heads = torch.arange(shape.kv_heads, device=device)
            self._base = ((slots[:, None] * shape.kv_heads + heads[None, :]) * shape.max_len).contiguous()
        else:  # row r, column c -> r * max_len + c (all heads of a token are contiguous)
            self._base = (slots * shape.max_len)[:, None].contiguous()
        self._write_index = torch.zeros_like(self._base)  # static: CUDA graphs read it at a fixed address
        super().__init__(layers=[SlotLayer(self, i) for i in range(shape.layers)])

    # -- plans: what the next forward writes and reads ---------------------------------------

    def plan_prefill(self, slot: int, start: int, length: int) -> None:
        if not 0 <= slot < self.shape.slots or start + length > self.shape.max_len:
            raise ValueError(f"prefill of slot {slot} [{start}, {start + length}) does not fit the cache")
        self.plan = _Prefill(slot, start, length)

    def write_index(self, write_at: torch.Tensor) -> torch.Tensor:
        """Flat positions, in every layer's buffer, of the new K/V of rows ``[0, len(write_at))``
        written at columns ``write_at``: computed once per step (device ops only, into a static
        buffer), shared by all layers, so each layer's write is one ``index_copy_``."""
        rows = write_at.shape[0]
        torch.add(self._base[:rows], write_at[:, None], out=self._write_index[:rows])
        return self._write_index[:rows].view(-1)

    def plan_decode(self, rows: int, write_index: torch.Tensor, attend: int, longest: int) -> None:
        if not 0 < rows <= self.shape.slots or not 0 < attend <= self.shape.max_len:
            raise ValueError(f"decode of {rows} rows attending {attend} tokens does not fit the cache")
        self.plan = _Decode(rows, write_index, attend, longest)

    def layer_buffers(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The full buffers of one layer (what ``flash_attn_with_kvcache`` reads, in ``blhd``)."""
        return self.keys[index], self.values[index]

    # -- writes -------------------------------------------------------------------------------

    def write_prefill(
        self, index: int, k: torch.Tensor, v: torch.Tensor, plan: _Prefill
    ) -> tuple[torch.Tensor, torch.Tensor]:
        keys, values = self.keys[index], self.values[index]
        s, a, b = plan.slot, plan.start, plan.start + plan.length
        if self.layout == "bhld":
            keys[s, :, a:b].copy_(k[0])
            values[s, :, a:b].copy_(v[0])
            out = keys[s : s + 1, :, :b], values[s : s + 1, :, :b]
        else:
            keys[s, a:b].copy_(k[0].transpose(0, 1))
            values[s, a:b].copy_(v[0].transpose(0, 1))
            out = keys[s : s + 1, :b].transpose(1, 2), values[s : s + 1, :b].transpose(1, 2)
        self.bytes_written += 2 * k[0].numel() * k.element_size()
        return out

    def write_decode(
        self, index: int, k: torch.Tensor, v: torch.Tensor, plan: _Decode
    ) -> tuple[torch.Tensor, torch.Tensor]:
        keys, values = self.keys[index], self.values[index]
        n, d = plan.rows, self.shape.head_dim
        new_k, new_v = k[:, :, 0], v[:, :, 0]  # (rows, heads, dim)
        if self.layout == "bhld":
            keys.view(-1, d).index_copy_(0, plan.write_index, new_k.reshape(-1, d))
            values.view(-1, d).index_copy_(0, plan.write_index, new_v.reshape(-1, d))
            out = keys[:n, :, : plan.attend], values[:n, :, : plan.attend]
        else:
            token = self.shape.kv_heads * d
            keys.view(-1, token).index_copy_(0, plan.write_index, new_k.reshape(n, token))
            values.view(-1, token).index_copy_(0, plan.write_index, new_v.reshape(n, token))
            out = keys[:n, : plan.attend].transpose(1, 2), values[:n, : plan.attend].transpose(1, 2)
        self.bytes_written += 2 * new_k.numel() * k.element_size()
        return out


class SlotAllocator:
    """Free slots, lowest first, so the rows in use stay packed at the front of the buffers."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._free = list(range(slots))
        heapq.heapify(self._free)
        self._used: set[int] = set()

    @property
    def free(self) -> int:
        return len(self._free)

    @property
    def span(self) -> int:
        """Rows ``[0, span)`` hold every slot in use: what a decode step runs over."""
        return max(self._used) + 1 if self._used else 0

    def take(self) -> int:
        slot = heapq.heappop(self._free)
        self._used.add(slot)
        return slot

    def release(self, slot: int) -> None:
        if slot not in self._used:
            raise ValueError(f"slot {slot} is not in use")
        self._used.discard(slot)
        heapq.heappush(self._free, slot)

    def release_all(self) -> None:
        for slot in list(self._used):
            self.release(slot)
