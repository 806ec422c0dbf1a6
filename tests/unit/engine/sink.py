"""The engine tests' event sink: every ``StreamEvent`` by request, and each request's final result."""

from __future__ import annotations

from pipelines.core.errors import ServiceError
from pipelines.core.types import GenerationResult
from pipelines.engine.continuous import StreamEvent


class EventSink:
    def __init__(self) -> None:
        self.events: dict[str, list[StreamEvent]] = {}

    def __call__(self, event: StreamEvent) -> None:
        self.events.setdefault(event.request_id, []).append(event)

    def result(self, request_id: str) -> GenerationResult | ServiceError:
        final = self.events[request_id][-1]
        assert final.result is not None  # the last event of a request carries its result
        return final.result

    def streamed(self, request_id: str) -> str:
        return "".join(e.delta for e in self.events[request_id])
