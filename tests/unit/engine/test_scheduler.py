"""The continuous engine on the tiny checkpoint: slots, prefill budget, limits, syncs, the protocol."""

from __future__ import annotations

import threading

import torch
from PIL import Image

from bench.probes import HostSyncCounter, KVCopyMeter
from pipelines.core.errors import InvalidRequestError, ServiceError
from pipelines.core.types import GenerationRequest, GenerationResult, ImagePart, Message, SamplingParams
from pipelines.engine import Engine, SchedulerConfig, generate_all
from pipelines.engine.continuous import ContinuousEngine
from pipelines.engine.vlm import VLMEngine
from tests.unit.engine.sink import EventSink
from tests.unit.generation_requests import user_request


def request(rid: str, text: str, image: Image.Image | None = None, **params: object) -> GenerationRequest:
    return user_request(rid, text, image, **{"max_tokens": 10, **params})


def run(cont: ContinuousEngine, requests: list[GenerationRequest], sink: EventSink) -> int:
    pending = [(r, sink) for r in requests]
    steps = 0
    while pending or cont.running:
        pending = cont.step(pending)
        steps += 1
        assert steps < 500
    return steps


LONG = "a photo of a red handbag on a white table next to a pair of sunglasses " * 3


def test_chunked_prefill_gives_the_same_greedy_tokens_as_generate(engine: VLMEngine) -> None:
    requests = [
        request("text", LONG, max_tokens=8),
        request("image", "describe this picture please", Image.new("RGB", (96, 64), "red"), max_tokens=8),
    ]
    expected = [engine.generate_batch([r])[0] for r in requests]
    cont = ContinuousEngine(engine, 4, start=False, scheduler=SchedulerConfig(prefill_chunk_tokens=16))
    sink = EventSink()
    run(cont, requests, sink)
    for r, solo in zip(requests, expected, strict=True):
        got = sink.result(r.request_id)
        assert isinstance(got, GenerationResult) and isinstance(solo, GenerationResult)
        assert (got.text, got.completion_tokens) == (solo.text, solo.completion_tokens)
        assert got.prompt_tokens > 16  # really chunked


def prefilled_keys(cont: ContinuousEngine, slot: int, tokens: int) -> list[torch.Tensor]:
    return [layer[slot, :, :tokens].clone() for layer in (*cont.cache.keys, *cont.cache.values)]


def test_prefill_budget_caps_each_step_while_running_sequences_keep_decoding(engine: VLMEngine) -> None:
    chunked = SchedulerConfig(prefill_chunk_tokens=16)
    alone = ContinuousEngine(engine, 4, start=False, scheduler=chunked)
    sink = EventSink()
    alone.step([(request("long", LONG, max_tokens=4), sink)])
    while alone.stats().prefilling:
        alone.step([])
    prompt = alone.prepare(request("x", LONG)).prompt.length  # type: ignore[union-attr]
    reference = prefilled_keys(alone, 0, prompt)

    cont = ContinuousEngine(engine, 4, start=False, scheduler=chunked)
    cont.step(cont.step([(request("short", "hi", max_tokens=40), sink)]))
    cont.step([(request("long", LONG, max_tokens=4), sink)])
    prefill_steps = 0
    while cont.stats().prefilling:
        assert cont.last_step.prefill_tokens <= 16 and cont.last_step.decode_rows == 1  # "short" still decodes
        cont.step([])
        prefill_steps += 1
    assert prefill_steps >= 2
    # slot 1 holds exactly the K/V of the prompt prefilled alone: the decode steps in between
    # (whose inactive rows include slot 1) wrote nothing into its prompt columns
    assert all(torch.equal(a, b) for a, b in zip(prefilled_keys(cont, 1, prompt), reference, strict=True))
    run(cont, [], sink)
    solo = {r.request_id: engine.generate_batch([r])[0] for r in (request("short", "hi", max_tokens=40),)}
    got, expected = sink.result("short"), solo["short"]
    assert isinstance(got, GenerationResult) and isinstance(expected, GenerationResult)
    assert (got.text, got.completion_tokens) == (expected.text, expected.completion_tokens)


def test_a_prompt_that_cannot_fit_its_slot_is_refused_and_output_stops_at_the_slot_end(engine: VLMEngine) -> None:
    cont = ContinuousEngine(engine, 2, start=False, scheduler=SchedulerConfig(max_context_tokens=40))
    sink = EventSink()
    run(cont, [request("long", LONG * 2), request("fits", "hello there", max_tokens=200)], sink)
    refused = sink.result("long")
    assert isinstance(refused, InvalidRequestError) and refused.code == "context_length_exceeded"
    fits = sink.result("fits")
    prompt = cont.prepare(request("x", "hello there")).prompt.length  # type: ignore[union-attr]
    # the slot holds 40 tokens: the prompt and all generated tokens but the last, never fed back
    alone = engine.generate_batch([request("fits", "hello there", max_tokens=40 - prompt + 1)])[0]
    assert isinstance(fits, GenerationResult) and isinstance(alone, GenerationResult)
    assert (fits.text, fits.completion_tokens, fits.finish_reason) == (
        alone.text,
        alone.completion_tokens,
        alone.finish_reason,
    )
    assert cont.finished["rejected"] == 1


def test_a_decode_step_syncs_once_and_copies_no_kv(engine: VLMEngine) -> None:
    cont = ContinuousEngine(engine, 8, start=False)
    sink = EventSink()
    pending = [
        (request(f"r{i}", f"hello number {i}", max_tokens=60, temperature=0.8 * (i % 2), seed=i), sink)
        for i in range(6)
    ]
    pending = cont.step(cont.step(pending))
    with HostSyncCounter() as syncs:
        cont.step([])
    assert syncs.count == 1, syncs.by_call
    meter = KVCopyMeter(lambda: [*cont.cache.keys, *cont.cache.values])
    pointers = [t.data_ptr() for t in (*cont.cache.keys, *cont.cache.values)]
    with meter:
        cont.step([])
        cont.step([(cont.prepare(request("join", "and me too", max_tokens=3)), sink)])  # a join copies nothing
    assert meter.bytes == 0, meter.by_call
    assert [t.data_ptr() for t in (*cont.cache.keys, *cont.cache.values)] == pointers


def test_a_join_leaves_the_running_rows_untouched(engine: VLMEngine) -> None:
    cont = ContinuousEngine(engine, 4, start=False)
    sink = EventSink()
    cont.step(cont.step([(request("a", "first one", max_tokens=30), sink)]))
    before = cont.cache.keys[0][0].clone()  # slot 0 holds "a"
    cont.step([(request("b", "second one joins", max_tokens=30), sink)])
    after = cont.cache.keys[0][0]
    changed = (before != after).any(dim=-1).any(dim=0).nonzero().flatten().tolist()
    assert len(changed) == 1  # only the one column "a" wrote in that step
    assert torch.count_nonzero(cont.cache.keys[0][1]) > 0  # "b" was prefilled into slot 1


def test_a_finished_sequence_frees_its_slot_for_the_next_request(engine: VLMEngine) -> None:
    cont = ContinuousEngine(engine, 3, start=False)
    sink = EventSink()
    pending = cont.step([(request("short", "a", max_tokens=2), sink), (request("long", "b", max_tokens=30), sink)])
    while "short" not in sink.events or not sink.events["short"][-1].final:
        pending = cont.step(pending)
    assert cont.slots.free == 2 and cont.slots.span == 2  # slot 0 is free again, "long" holds slot 1
    cont.step([(request("next", "c", max_tokens=5), sink)])
    assert cont.slots.free == 1 and cont.slots.span == 2  # the newcomer took slot 0, not slot 2
    run(cont, [], sink)
    assert cont.slots.free == 3


def test_raising_max_running_regrows_the_cache_once_idle(engine: VLMEngine) -> None:
    cont = ContinuousEngine(engine, 2, start=False)
    sink = EventSink()
    pending = cont.step([(request("a", "hi", max_tokens=6), sink)])
    cont.set_max_running(5)
    assert cont.cache.shape.slots == 2  # still running: no reallocation under a live sequence
    run(cont, [request(f"n{i}", "more", max_tokens=3) for i in range(5)], sink)
    assert cont.cache.shape.slots == 5 and max(cont.step_sizes) <= 5
    assert all(isinstance(sink.result(r), GenerationResult) for r in ["a", *[f"n{i}" for i in range(5)]])
    assert not pending


def test_generate_all_serves_the_job_with_the_service_engine(engine: VLMEngine, monkeypatch) -> None:
    threads: set[str] = set()
    encode = engine.encoder.encode

    def recording(req: GenerationRequest):
        threads.add(threading.current_thread().name)
        return encode(req)

    monkeypatch.setattr(engine.encoder, "encode", recording)
    cont = ContinuousEngine(engine, 4)
    try:
        assert isinstance(cont, Engine)
        bad = GenerationRequest(
            "bad", [Message("user", [ImagePart(Image.new("RGB", (2, 600)), "image/png", 0)])], SamplingParams(4)
        )
        requests = [request(f"g{i}", f"question {i}", max_tokens=6) for i in range(5)]
        results = generate_all(cont, [requests[0], bad, *requests[1:]])
        assert isinstance(results[1], ServiceError) and results[1].status == 400
        expected = engine.generate_batch(requests)
        assert [r.text for r in results if isinstance(r, GenerationResult)] == [
            e.text for e in expected if isinstance(e, GenerationResult)
        ]
        stats = cont.stats().as_dict()
        assert stats["finished"] == {"done": 5, "rejected": 1} and stats["running"] == 0
        assert stats["slots"] == 4 and stats["kv_cache_bytes"] == cont.cache.shape.bytes
    finally:
        cont.close()
    assert threads and "continuous-engine" not in threads  # encoding never ran on the decode thread
