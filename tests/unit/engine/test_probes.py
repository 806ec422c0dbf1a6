"""The benchmark probes see what they claim to: copies of KV-cache memory and host syncs."""

from __future__ import annotations

import torch
from transformers import DynamicCache

from bench.probes import HostSyncCounter, KVCopyMeter
from pipelines.engine.vlm import VLMEngine


def test_the_kv_meter_sees_a_dynamic_cache_copy_its_whole_cache_every_step(engine: VLMEngine) -> None:
    model, ids = engine.model, torch.randint(20, 500, (2, 12))
    cache = DynamicCache(config=model.config)
    with torch.inference_mode():
        model(input_ids=ids, cache=cache, use_cache=True)
        cached = sum(t.numel() * t.element_size() for layer in cache.layers for t in (layer.keys, layer.values))
        meter = KVCopyMeter(lambda: [t for layer in cache.layers for t in (layer.keys, layer.values)])
        with meter:
            model(input_ids=ids[:, :1], cache=cache, use_cache=True)
    grown = sum(t.numel() * t.element_size() for layer in cache.layers for t in (layer.keys, layer.values))
    assert meter.bytes == grown > cached  # torch.cat re-made every layer's K and V
    assert set(meter.by_call) == {"cat"}


def test_the_sync_counter_counts_reads_transfers_and_data_dependent_shapes() -> None:
    x = torch.arange(6.0)
    with HostSyncCounter() as syncs:
        x.sum().item()
        x.tolist()
        bool(x[0])
        torch.nonzero(x)
        x + 1  # device work only: not a sync
    assert syncs.count == 4 and syncs.by_call["item"] == 1
    with HostSyncCounter("cuda") as on_gpu:  # on a GPU run, host buffers are not device reads
        x.tolist()
    assert on_gpu.count == 0
