"""The decode step on static buffers: eager on the CPU, replayed as a CUDA graph on a GPU.

Everything a decode step reads or writes lives in fixed device buffers (:class:`DecodeState`):
each slot's last token, positions (text and M-RoPE t/h/w), length, whether it is in use, the SDPA
mask and the logits. A step over rows ``[0, n)`` is one function, :meth:`DecodeRunner.forward`:
advance positions, mark the new column in the mask, run the model (which writes the new K/V in
place through the slot cache), advance lengths, copy the logits out. It never reads a value back
to the host, so the same function can be captured once per batch-size bucket (1, 2, 4, ... 64)
and replayed: the CPU launches one graph instead of ~2,000 kernels. Rows beyond the used ones (a
free slot, a slot still being prefilled, or padding up to the bucket) are inactive: their length
and position stay put, they attend to one column, write into their slot's last column (never a
prompt column) and their logits are ignored.

On the CPU (and whenever no graph fits) the same ``forward`` runs eagerly with the exact row
count and attended length.
"""

from __future__ import annotations

import bisect
import logging
from typing import Any

import torch

from pipelines.engine.attention import Backend, SlotDecode
from pipelines.engine.config import SchedulerConfig
from pipelines.engine.kv_cache import SlotKVCache

logger = logging.getLogger(__name__)

_GRAPH_WARMUP_RUNS = 2  # eager runs on a side stream before capture, as torch.cuda.graphs requires


class DecodeState:
    """The decode step's static device buffers, one row per cache slot."""

    def __init__(self, slots: int, max_len: int, vocab: int, dtype: torch.dtype, device: torch.device) -> None:
        self.tokens = torch.zeros((slots, 1), dtype=torch.long, device=device)
        self.positions = torch.zeros((4, slots), dtype=torch.long, device=device)
        self.lengths = torch.zeros(slots, dtype=torch.long, device=device)
        self.write_at = torch.zeros(slots, dtype=torch.long, device=device)
        # An inactive row (a free slot, or one still being prefilled) writes its garbage K/V into
        # the slot's last column, which no prompt reaches and no read sees before a real write:
        # write_at = length + park, park = max_len - 1 while inactive, 0 while active.
        self._parked = max_len - 1
        self.park = torch.full((slots,), self._parked, dtype=torch.long, device=device)
        self.active = torch.zeros(slots, dtype=torch.long, device=device)
        self.flash_lengths = torch.ones(slots, dtype=torch.int32, device=device)
        self.mask = torch.zeros((slots, max_len), dtype=torch.bool, device=device)
        self.mask[:, 0] = True  # an inactive row attends to one (ignored) column: never an all-masked row
        self.logits = torch.zeros((slots, vocab), dtype=dtype, device=device)

    def join(self, slot: int, length: int, last_position: torch.Tensor, first_token: torch.Tensor) -> None:
        """A prefilled sequence takes its row: ``length`` cached tokens, its last prompt position
        (4,) and the token sampled from its prefill (a 1-element device tensor; no host sync)."""
        self.tokens[slot, 0].copy_(first_token.reshape(()))
        self.positions[:, slot].copy_(last_position, non_blocking=True)
        self.lengths[slot] = length
        self.active[slot] = 1
        self.park[slot] = 0
        self.mask[slot, :length] = True
        self.mask[slot, length:] = False

    def leave(self, slot: int) -> None:
        """Free a row: back to the inactive pattern (the K/V in the slot is simply overwritten later)."""
        self.lengths[slot] = 0
        self.active[slot] = 0
        self.park[slot] = self._parked
        self.positions[:, slot] = 0
        self.mask[slot] = False
        self.mask[slot, 0] = True

    def reset(self) -> None:
        self.tokens.zero_()
        self.positions.zero_()
        self.lengths.zero_()
        self.active.zero_()
        self.park.fill_(self._parked)
        self.mask.zero_()
        self.mask[:, 0] = True


class DecodeRunner:
    """Runs decode steps over a slot cache, eagerly or through per-bucket CUDA graphs."""

    def __init__(
        self, model: Any, cache: SlotKVCache, state: DecodeState, backend: Backend, config: SchedulerConfig
    ) -> None:
        self.model = model
        self.cache = cache
        self.state = state
        self.backend = backend
        self.max_len = cache.shape.max_len
        slots = cache.shape.slots
        self.batch_buckets = sorted({b for b in config.graph_batch_sizes if b < slots} | {slots})
        if backend == "flash":  # flash reads each row's own length: one graph per batch bucket
            self.context_buckets = [self.max_len]
        else:
            self.context_buckets = _powers_of_two(min(config.graph_min_context_tokens, self.max_len), self.max_len)
        self.graphs: dict[tuple[int, int], torch.cuda.CUDAGraph] = {}
        self.graph_error: str | None = None
        self._pool: Any = None

    # -- the step -----------------------------------------------------------------------------

    def forward(self, rows: int, attend: int, longest: int) -> None:
        """One decode step over rows ``[0, rows)`` attending to ``attend`` columns; logits land in
        ``state.logits[:rows]``. Device work only: safe to capture in a CUDA graph."""
        s = self.state
        active = s.active[:rows]
        s.positions[:, :rows].add_(active)
        torch.add(s.lengths[:rows], s.park[:rows], out=s.write_at[:rows])
        if self.backend == "flash":
            s.flash_lengths[:rows].copy_(s.lengths[:rows] + 1)
            mask = None
            slot_decode = SlotDecode(self.cache, s.flash_lengths[:rows])
        else:
            s.mask[:rows].scatter_(1, s.lengths[:rows, None], True)
            mask = s.mask[:rows, None, None, :attend]
            slot_decode = None
        write_index = self.cache.write_index(s.write_at[:rows])
        self.cache.plan_decode(rows, write_index, attend, longest)
        output = self.model(
            input_ids=s.tokens[:rows],
            position_ids=s.positions[:, :rows, None],
            attention_mask=mask,
            cache=self.cache,
            use_cache=True,
            slot_decode=slot_decode,
        )
        s.lengths[:rows].add_(active)
        s.logits[:rows].copy_(output.logits[:, -1])

    def step(self, span: int, longest: int) -> torch.Tensor:
        """Decode rows ``[0, span)`` whose longest sequence will hold ``longest`` tokens after the
        step; returns their logits (a view of the static buffer)."""
        graph = self._graph_for(span, longest)
        if graph is not None:
            graph.replay()
        else:
            self.forward(span, min(longest, self.max_len), longest)
        return self.state.logits[:span]

    def _graph_for(self, span: int, longest: int) -> torch.cuda.CUDAGraph | None:
        if not self.graphs:
            return None
        b = bisect.bisect_left(self.batch_buckets, span)
        c = bisect.bisect_left(self.context_buckets, longest)
        if b == len(self.batch_buckets) or c == len(self.context_buckets):
            return None
        return self.graphs.get((self.batch_buckets[b], self.context_buckets[c]))

    # -- CUDA graphs --------------------------------------------------------------------------

    def capture(self) -> None:
        """Capture one graph per (batch bucket, context bucket). Runs at warm-up, with no sequence
        in the cache (the warm-up runs write only into inactive rows). On failure the engine stays
        eager and says why in ``graph_error``."""
        device = self.state.tokens.device
        if device.type != "cuda":
            return
        self.state.reset()
        try:
            stream = torch.cuda.Stream(device)
            stream.wait_stream(torch.cuda.current_stream(device))
            self._pool = torch.cuda.graph_pool_handle()
            # largest first: later, smaller graphs reuse the pool's memory
            for rows in reversed(self.batch_buckets):
                for attend in reversed(self.context_buckets):
                    with torch.cuda.stream(stream):
                        for _ in range(_GRAPH_WARMUP_RUNS):
                            self.forward(rows, attend, attend)
                    graph = torch.cuda.CUDAGraph()
                    # thread_local: admission threads may touch CUDA meanwhile without breaking the capture
                    with torch.cuda.graph(graph, pool=self._pool, stream=stream, capture_error_mode="thread_local"):
                        self.forward(rows, attend, attend)
                    self.graphs[(rows, attend)] = graph
            torch.cuda.current_stream(device).wait_stream(stream)
            torch.cuda.synchronize(device)
        except Exception as exc:
            logger.exception("CUDA graph capture failed; decoding eagerly")
            self.graphs.clear()
            self.graph_error = f"{type(exc).__name__}: {exc}"
        finally:
            self.state.reset()
        logger.info(
            "captured %d decode graphs (batch %s x context %s)",
            len(self.graphs),
            self.batch_buckets,
            self.context_buckets,
        )


def _powers_of_two(low: int, high: int) -> list[int]:
    sizes, size = [], low
    while size < high:
        sizes.append(size)
        size *= 2
    return [*sizes, high]
