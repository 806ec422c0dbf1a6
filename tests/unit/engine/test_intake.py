"""The engine's intake keeps a cancellation only while its request is in flight: cancelling ids that
never came, or that already ended, leaves nothing behind however many arrive."""

from __future__ import annotations

import uuid

from pipelines.core.errors import ServiceError
from pipelines.core.types import GenerationRequest, Message, SamplingParams, TextPart
from pipelines.engine.intake import Intake
from pipelines.engine.protocol import PreparedRequest, StreamEvent

CANCEL_FLOOD = 10_000


def never_prepare(request: GenerationRequest) -> PreparedRequest | ServiceError:
    raise AssertionError("prepared requests only")


def prepared(request_id: str) -> PreparedRequest:
    request = GenerationRequest(request_id, [Message("user", [TextPart("hi")])], SamplingParams(max_tokens=1))
    return PreparedRequest(request, prompt=None)  # type: ignore[arg-type]  # the intake never reads it


def ignore(event: StreamEvent) -> None:
    pass


def test_cancelling_unknown_or_finished_ids_keeps_nothing() -> None:
    intake = Intake(never_prepare, threads=1)
    for _ in range(CANCEL_FLOOD):
        intake.cancel(uuid.uuid4().hex)
    assert intake.cancellations == 0 and intake.in_flight == 0

    intake.submit(prepared("done-1"), ignore)
    intake.end("done-1", "done")
    for _ in range(CANCEL_FLOOD):
        intake.cancel("done-1")  # a client that keeps cancelling a finished request
    assert intake.cancellations == 0 and intake.in_flight == 0
    assert not intake.take_cancelled("done-1")


def test_cancellations_stay_bounded_by_the_requests_in_flight() -> None:
    intake = Intake(never_prepare, threads=1)
    running = [f"run-{i}" for i in range(3)]
    for request_id in running:
        intake.submit(prepared(request_id), ignore)
    for round_ in range(CANCEL_FLOOD // 10):
        request_id = f"brief-{round_}"
        intake.submit(prepared(request_id), ignore)
        intake.cancel(request_id)
        intake.cancel(request_id)
        intake.cancel(f"never-{round_}")
        assert intake.cancellations <= intake.in_flight <= len(running) + 1
        intake.end(request_id, "cancelled")  # ended without the worker taking the cancellation
    assert intake.cancellations == 0 and intake.in_flight == len(running)


def test_a_cancelled_request_in_flight_is_still_cancelled_once() -> None:
    intake = Intake(never_prepare, threads=1)
    intake.submit(prepared("r1"), ignore)
    intake.cancel("r1")
    assert intake.cancellations == 1
    assert intake.take_cancelled("r1") and not intake.take_cancelled("r1")
    intake.end("r1", "cancelled")
    assert intake.in_flight == 0 and intake.finished == {"cancelled": 1}
