"""The slot KV cache writes only what it is told to, in place, and never moves what it holds."""

from __future__ import annotations

import pytest
import torch

from pipelines.engine.kv_cache import CacheShape, SlotAllocator, SlotKVCache

SHAPE = CacheShape(layers=2, slots=4, max_len=16, kv_heads=2, head_dim=3, dtype=torch.float32)


def kv(batch: int, tokens: int, fill: float) -> torch.Tensor:
    """(batch, heads, tokens, dim) as attention hands it to the cache, row r filled with fill + r."""
    rows = torch.arange(batch, dtype=torch.float32)[:, None, None, None]
    return (fill + rows).expand(batch, SHAPE.kv_heads, tokens, SHAPE.head_dim).clone()


@pytest.mark.parametrize("layout", ["bhld", "blhd"])
def test_prefill_writes_its_own_slot_and_returns_its_prefix(layout: str) -> None:
    cache = SlotKVCache(SHAPE, torch.device("cpu"), layout)  # type: ignore[arg-type]
    cache.plan_prefill(slot=2, start=0, length=5)
    keys, values = cache.update(kv(1, 5, 7.0), kv(1, 5, -7.0), 0)
    assert keys.shape == values.shape == (1, SHAPE.kv_heads, 5, SHAPE.head_dim)
    assert torch.all(keys == 7.0) and torch.all(values == -7.0)
    cache.plan_prefill(slot=2, start=5, length=3)  # the next chunk attends to the first one too
    keys, _ = cache.update(kv(1, 3, 8.0), kv(1, 3, -8.0), 0)
    assert keys.shape[2] == 8 and torch.all(keys[:, :, :5] == 7.0) and torch.all(keys[:, :, 5:] == 8.0)
    assert cache.layers[0].get_mask_sizes(3) == (8, 0) and cache.get_seq_length() == 5
    other_slots = [s for s in range(SHAPE.slots) if s != 2]
    buffer = cache.keys[0] if layout == "bhld" else cache.keys[0].transpose(1, 2)
    assert torch.all(buffer[other_slots] == 0) and torch.all(cache.keys[1] == 0)  # nothing else touched


@pytest.mark.parametrize("layout", ["bhld", "blhd"])
def test_decode_writes_one_column_per_row_at_its_own_length_in_place(layout: str) -> None:
    cache = SlotKVCache(SHAPE, torch.device("cpu"), layout)  # type: ignore[arg-type]
    pointers = [t.data_ptr() for t in (*cache.keys, *cache.values)]
    lengths = torch.tensor([3, 0, 7, 1])
    index = cache.write_index(lengths[:3])
    cache.plan_decode(rows=3, write_index=index, attend=8, longest=8)
    keys, _ = cache.update(kv(3, 1, 1.0), kv(3, 1, -1.0), 1)
    assert keys.shape == (3, SHAPE.kv_heads, 8, SHAPE.head_dim)
    buffer = cache.keys[1] if layout == "bhld" else cache.keys[1].transpose(1, 2)
    for row, at in enumerate(lengths[:3].tolist()):
        assert torch.all(buffer[row, :, at] == 1.0 + row)
        assert torch.count_nonzero(buffer[row]) == SHAPE.kv_heads * SHAPE.head_dim  # exactly one column
    assert torch.all(buffer[3] == 0)  # row 3 is beyond the step's rows
    assert keys.untyped_storage().data_ptr() == buffer.untyped_storage().data_ptr()  # a view, not a copy
    assert [t.data_ptr() for t in (*cache.keys, *cache.values)] == pointers
    assert cache.bytes_written == 2 * 3 * SHAPE.kv_heads * SHAPE.head_dim * 4


def test_plans_that_do_not_fit_are_refused() -> None:
    cache = SlotKVCache(SHAPE, torch.device("cpu"))
    with pytest.raises(ValueError):
        cache.plan_prefill(slot=0, start=10, length=7)
    with pytest.raises(ValueError):
        cache.plan_decode(rows=5, write_index=torch.zeros(5, dtype=torch.long), attend=4, longest=4)
    cache.plan = None
    with pytest.raises(RuntimeError):
        cache.update(kv(1, 1, 0.0), kv(1, 1, 0.0), 0)


def test_cache_size_is_slots_times_length() -> None:
    assert SHAPE.bytes == 2 * 2 * 4 * 16 * 2 * 3 * 4
    assert SHAPE.bytes_per_token == 2 * 2 * 2 * 3 * 4
    cache = SlotKVCache(SHAPE, torch.device("cpu"))
    assert sum(t.numel() * t.element_size() for t in (*cache.keys, *cache.values)) == SHAPE.bytes


def test_allocator_hands_out_the_lowest_free_slot_so_rows_stay_packed() -> None:
    slots = SlotAllocator(4)
    assert [slots.take() for _ in range(3)] == [0, 1, 2] and slots.span == 3
    slots.release(1)
    assert slots.span == 3 and slots.free == 2
    assert slots.take() == 1  # the hole is refilled before the end grows
    slots.release(2)
    assert slots.span == 2
    with pytest.raises(ValueError):
        slots.release(2)
    slots.release_all()
    assert slots.span == 0 and slots.free == 4
