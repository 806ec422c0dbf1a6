"""The one public engine interface: what the VLM deployment and the offline job both program against.

An engine takes requests (``submit``), streams :class:`StreamEvent` s to a caller-supplied sink on
its own thread, drops a request on ``cancel``, reports ``stats()`` and ``healthy``. Per-request
failures are values (the final event's ``result`` is a ``ServiceError``), never exceptions, so
one bad request or one failed step never fails its neighbours. Encoding (chat template, image
processing) is CPU work the caller can do off the decode thread with ``prepare`` and submit the
:class:`PreparedRequest`; a plain ``GenerationRequest`` is encoded on the engine's admission
threads instead.

:func:`generate_all` is the blocking helper for batch jobs: the same engine as the service, so
an offline run decodes exactly like the service does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

from pipelines.core.errors import EngineError, ServiceError
from pipelines.core.types import GenerationRequest, GenerationResult
from pipelines.engine.encoding import EncodedPrompt

_HEALTH_POLL_S = 0.5  # how often a blocked generate_all checks that the engine is still alive


@dataclass
class StreamEvent:
    """New text for one request; the last event of a request carries its ``result``."""

    request_id: str
    delta: str = ""
    result: GenerationResult | ServiceError | None = None

    @property
    def final(self) -> bool:
        return self.result is not None


Sink = Callable[[StreamEvent], None]
"""Receives a request's events, in order, on the engine's thread: it must be quick and never raise."""


@dataclass
class PreparedRequest:
    """A request already encoded (by ``Engine.prepare``), ready to be admitted."""

    request: GenerationRequest
    prompt: EncodedPrompt

    @property
    def request_id(self) -> str:
        return self.request.request_id


@dataclass
class EngineStats:
    """What the engine has done and holds now (the deployment's ``engine_stats`` and metrics)."""

    steps: int
    step_sizes: dict[int, int]
    finished: dict[str, int]
    running: int
    prefilling: int
    waiting: int
    consecutive_failures: int
    healthy: bool
    max_running: int
    slots: int
    max_context_tokens: int
    kv_cache_bytes: int
    attention: str
    cuda_graphs: int
    graph_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Engine(Protocol):
    """A running generation engine (see the module docstring)."""

    @property
    def ready(self) -> bool:
        """Loaded and warmed up: requests submitted now are served."""
        ...

    @property
    def healthy(self) -> bool:
        """False once the engine cannot serve anymore (its thread died, steps keep failing)."""
        ...

    def prepare(self, request: GenerationRequest) -> PreparedRequest | ServiceError:
        """Encode ``request`` (CPU work; any thread). A request the model cannot take is an error value."""
        ...

    def submit(self, request: GenerationRequest | PreparedRequest, sink: Sink) -> None:
        """Queue a request; its events go to ``sink``, the last one with the result. Never blocks."""
        ...

    def cancel(self, request_id: str) -> None:
        """Drop a request at the next step (its final event is a ``RequestCancelledError``)."""
        ...

    def set_max_running(self, max_running: int) -> None:
        """Most sequences decoded together from now on (a run-time knob)."""
        ...

    def stats(self) -> EngineStats: ...

    def close(self) -> None:
        """Stop the engine's thread; requests still in it get no more events."""
        ...


def generate_all(engine: Engine, requests: Sequence[GenerationRequest]) -> list[GenerationResult | ServiceError]:
    """Submit every request and block until each has its result, in request order.

    Results are values: a request that fails (bad input, a failed step, its deadline) gets its
    ``ServiceError``; if the engine dies while waiting, the requests still open get an
    ``EngineError`` instead of blocking forever.
    """
    results: dict[str, GenerationResult | ServiceError] = {}
    done = threading.Condition()
    ids = [r.request_id for r in requests]
    if len(set(ids)) != len(ids):
        raise ValueError("request ids must be unique within one generate_all call")

    def sink(event: StreamEvent) -> None:
        if event.result is not None:
            with done:
                results[event.request_id] = event.result
                done.notify_all()

    for request in requests:
        engine.submit(request, sink)
    with done:
        while len(results) < len(ids):
            if not done.wait(timeout=_HEALTH_POLL_S) and not engine.healthy:
                for request_id in ids:
                    results.setdefault(request_id, EngineError("The model failed to generate a response."))
    return [results[request_id] for request_id in ids]
