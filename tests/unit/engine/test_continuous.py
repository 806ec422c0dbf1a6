"""Iteration-level batching: joining mid-flight, leaving early, streaming, cancellation, deadlines."""

from __future__ import annotations

import threading
import time

import pytest
import torch
from PIL import Image

from pipelines.core.errors import DeadlineExceededError, RequestCancelledError, ServiceError
from pipelines.core.types import GenerationRequest, GenerationResult
from pipelines.engine import continuous
from pipelines.engine.continuous import ContinuousEngine, StreamEvent
from pipelines.engine.vlm import VLMEngine
from tests.unit.engine.sink import EventSink
from tests.unit.generation_requests import user_request


def request(i: int, text: str, image: Image.Image | None = None, **params: object) -> GenerationRequest:
    return user_request(f"r{i}", text, image, stream=True, **{"max_tokens": 12, **params})


REQUESTS = [
    ("hello there", None, {"max_tokens": 10}),
    ("describe this picture please", Image.new("RGB", (64, 48), "red"), {"max_tokens": 16}),
    ("a much longer prompt with many many words in it to make the padding matter", None, {"max_tokens": 6}),
    ("what colour?", Image.new("RGB", (32, 32), "blue"), {"max_tokens": 14}),
    ("short", None, {"max_tokens": 3}),
]


def drive(cont: ContinuousEngine, schedule: dict[int, list[GenerationRequest]], sink: EventSink) -> None:
    """Step by hand; ``schedule[k]`` requests arrive before step k."""
    pending: list = []
    step = 0
    while step <= max(schedule) or pending or cont.running:
        pending += [(r, sink) for r in schedule.get(step, [])]
        pending = cont.step(pending)
        step += 1
        assert step < 500


def test_greedy_tokens_are_the_same_alone_and_joining_mid_flight(engine: VLMEngine) -> None:
    requests = [request(i, text, image, **params) for i, (text, image, params) in enumerate(REQUESTS)]
    alone = [engine.generate_batch([r])[0] for r in requests]
    cont = ContinuousEngine(engine, max_running=8, start=False)
    sink = EventSink()
    drive(cont, {0: requests[:2], 3: requests[2:4], 5: requests[4:]}, sink)
    for r, solo in zip(requests, alone, strict=True):
        result = sink.result(r.request_id)
        assert isinstance(result, GenerationResult) and isinstance(solo, GenerationResult)
        assert (result.text, result.completion_tokens, result.finish_reason) == (
            solo.text,
            solo.completion_tokens,
            solo.finish_reason,
        )
        assert sink.streamed(r.request_id) == result.text
    assert max(cont.step_sizes) > 2  # the late requests really shared steps with the early ones
    assert cont.running == 0


def test_max_running_caps_the_step_and_the_rest_wait(engine: VLMEngine) -> None:
    requests = [request(i, text, image, **params) for i, (text, image, params) in enumerate(REQUESTS)]
    cont = ContinuousEngine(engine, max_running=2, start=False)
    sink = EventSink()
    drive(cont, {0: requests}, sink)
    assert max(cont.step_sizes) == 2
    assert all(isinstance(sink.result(r.request_id), GenerationResult) for r in requests)


def test_stop_string_never_streams_and_matches_the_batch_engine(engine: VLMEngine) -> None:
    base = request(0, "describe this picture please", Image.new("RGB", (64, 48), "red"), max_tokens=16)
    full = engine.generate_batch([base])[0]
    assert isinstance(full, GenerationResult) and len(full.text) > 6
    stop = full.text[4:7]
    stopped = request(1, "describe this picture please", Image.new("RGB", (64, 48), "red"), max_tokens=16, stop=[stop])
    expected = engine.generate_batch([stopped])[0]
    cont = ContinuousEngine(engine, max_running=4, start=False)
    sink = EventSink()
    drive(cont, {0: [stopped]}, sink)
    result = sink.result("r1")
    assert isinstance(result, GenerationResult) and isinstance(expected, GenerationResult)
    assert result.text == expected.text and result.finish_reason == "stop"
    assert stop not in sink.streamed("r1") and sink.streamed("r1") == result.text


def test_seeded_sampling_is_reproducible_inside_a_batch(engine: VLMEngine) -> None:
    sampled = request(0, "tell me a story", temperature=0.9, top_p=0.9, seed=1234, max_tokens=10)
    others = [request(i, f"filler {i}", max_tokens=8) for i in range(1, 4)]
    alone, together = EventSink(), EventSink()
    drive(ContinuousEngine(engine, max_running=8, start=False), {0: [sampled]}, alone)
    drive(ContinuousEngine(engine, max_running=8, start=False), {0: others, 2: [sampled]}, together)
    assert alone.result("r0").text == together.result("r0").text  # type: ignore[union-attr]


def test_cancelled_request_leaves_the_batch_and_others_finish(engine: VLMEngine) -> None:
    long = request(0, "keep going", max_tokens=40)
    other = request(1, "and me", max_tokens=20)
    cont = ContinuousEngine(engine, max_running=4, start=False)
    sink = EventSink()
    pending = cont.step([(long, sink), (other, sink)])
    pending = cont.step(pending)
    assert cont.running == 2
    cont.cancel("r0")
    cont.step(pending)
    assert cont.running == 1
    assert isinstance(sink.result("r0"), RequestCancelledError)
    drive(cont, {0: []}, sink)
    assert isinstance(sink.result("r1"), GenerationResult)


def test_request_past_its_deadline_gets_504(engine: VLMEngine) -> None:
    late = request(0, "too late", max_tokens=40)
    late.deadline = time.time() - 1
    running = request(1, "soon late", max_tokens=200)
    cont = ContinuousEngine(engine, max_running=4, start=False)
    sink = EventSink()
    pending = cont.step([(late, sink), (running, sink)])
    assert isinstance(sink.result("r0"), DeadlineExceededError)
    running.deadline = time.time() - 1  # its deadline passes while it runs
    cont.step(pending)
    assert isinstance(sink.result("r1"), DeadlineExceededError) and cont.running == 0


def test_worker_thread_serves_concurrent_submissions(engine: VLMEngine) -> None:
    requests = [request(i, text, image, **params) for i, (text, image, params) in enumerate(REQUESTS)]
    alone = {r.request_id: engine.generate_batch([r])[0].text for r in requests}  # type: ignore[union-attr]
    cont = ContinuousEngine(engine, max_running=8)
    done = threading.Event()
    sink = EventSink()

    def on_event(event: StreamEvent) -> None:
        sink(event)
        if sum(1 for events in sink.events.values() if events[-1].final) == len(requests):
            done.set()

    try:
        for r in requests:
            cont.submit(r, on_event)
            time.sleep(0.01)
        assert done.wait(timeout=60)
    finally:
        cont.close()
    assert {r.request_id: sink.result(r.request_id).text for r in requests} == alone  # type: ignore[union-attr]


def test_non_streaming_requests_get_only_their_final_event(engine: VLMEngine) -> None:
    quiet = request(0, "hello there", max_tokens=10)
    quiet.stream = False
    cont = ContinuousEngine(engine, max_running=4, start=False)
    sink = EventSink()
    drive(cont, {0: [quiet]}, sink)
    (event,) = sink.events["r0"]
    assert event.final and event.delta == event.result.text  # type: ignore[union-attr]


class FailingForward:
    """Wraps the model's forward: the ``fail_on``-th decode call (input length 1) over at least
    ``min_rows`` rows raises ``error``. Requests are encoded off the decode thread, so they may join
    the batch a step or two apart: ``min_rows`` waits until they all decode together."""

    def __init__(self, original, error: BaseException, fail_on: int = 2, times: int = 1, min_rows: int = 1) -> None:
        self.original, self.error, self.fail_on, self.times = original, error, fail_on, times
        self.min_rows = min_rows
        self.decode_calls = 0

    def __call__(self, *args, **kwargs):
        input_ids = kwargs.get("input_ids")
        if input_ids is not None and input_ids.shape[1] == 1 and input_ids.shape[0] >= self.min_rows:
            self.decode_calls += 1
            if self.fail_on <= self.decode_calls < self.fail_on + self.times:
                raise self.error
        return self.original(*args, **kwargs)


def run_threaded(cont: ContinuousEngine, requests: list[GenerationRequest], timeout: float = 60) -> EventSink:
    sink = EventSink()
    done = threading.Event()

    def on_event(event: StreamEvent) -> None:
        sink(event)
        if sum(1 for events in sink.events.values() if events[-1].final) == len(requests):
            done.set()

    for r in requests:
        cont.submit(r, on_event)
    assert done.wait(timeout)
    return sink


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (RuntimeError("CUDA error: an illegal memory access"), 500, "engine_error"),
        (torch.OutOfMemoryError("CUDA out of memory"), 503, "out_of_memory"),
    ],
)
def test_a_failing_step_fails_its_batch_only_and_the_engine_recovers(
    engine: VLMEngine, monkeypatch: pytest.MonkeyPatch, error: BaseException, status: int, code: str
) -> None:
    monkeypatch.setattr(engine.model, "forward", FailingForward(engine.model.forward, error, fail_on=1, min_rows=3))
    cont = ContinuousEngine(engine, max_running=8)
    try:
        # long enough that the first admitted is still decoding when the last joins, on a loaded CPU
        batch = [request(i, f"first batch {i}", max_tokens=48) for i in range(3)]
        failed = run_threaded(cont, batch)
        for r in batch:
            result = failed.result(r.request_id)
            assert isinstance(result, ServiceError) and (result.status, result.code) == (status, code)
        assert cont.healthy and cont.running == 0
        after = run_threaded(cont, [request(9, "after the failure", max_tokens=6)])
        assert isinstance(after.result("r9"), GenerationResult)
        assert cont.consecutive_failures == 0
    finally:
        cont.close()


def test_steps_that_keep_failing_make_the_engine_unhealthy(engine: VLMEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.model, "forward", FailingForward(engine.model.forward, RuntimeError("wedged"), 1, 100))
    cont = ContinuousEngine(engine, max_running=8, max_consecutive_failures=3)
    try:
        for i in range(3):
            run_threaded(cont, [request(i, f"attempt {i}", max_tokens=4)])
        assert not cont.healthy  # the VLM deployment's check_health raises and Serve replaces the replica
    finally:
        cont.close()


def test_a_request_whose_admission_raises_ends_with_an_error_and_others_go_on(
    engine: VLMEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Taken off the queue, then starting its sequence raised: it used to end nowhere (its caller waited
    for the deadline) and the request still counted as in flight."""
    cont = ContinuousEngine(engine, max_running=8)
    original = continuous.Sequence.start

    def start(request: GenerationRequest, *args: object, **kwargs: object) -> object:
        if request.request_id == "r1":
            raise RuntimeError("sequence could not start")
        return original(request, *args, **kwargs)

    monkeypatch.setattr(continuous.Sequence, "start", start)
    try:
        sink = run_threaded(cont, [request(i, f"admission {i}", max_tokens=4) for i in range(3)], timeout=30)
        failed = sink.result("r1")
        assert isinstance(failed, ServiceError) and failed.code == "engine_error"
        assert isinstance(sink.result("r0"), GenerationResult) and isinstance(sink.result("r2"), GenerationResult)
        assert cont.running == 0 and cont.intake.in_flight == 0
    finally:
        cont.close()
