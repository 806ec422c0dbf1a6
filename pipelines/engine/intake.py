"""Where requests enter the continuous engine, from any thread, and how their ends are counted.

Submissions arrive on the callers' threads (the replica's event loop, a batch job's threads).
A request already encoded goes straight to the worker's inbox; a plain one is encoded first on
the intake's own small thread pool, so the chat template, image processing and tokenization
never run on the decode thread (a request the processor refuses ends right there, as a value).
Cancellations and the end-of-request counts are kept here, under one lock, because they are
touched from the callers' threads, the encoding threads and the worker.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from pipelines.core.errors import ServiceError
from pipelines.core.types import GenerationRequest
from pipelines.engine.protocol import PreparedRequest, Sink, StreamEvent

Item = GenerationRequest | PreparedRequest
Pending = tuple[Item, Sink]
Prepare = Callable[[GenerationRequest], PreparedRequest | ServiceError]


def request_of(item: Item) -> GenerationRequest:
    return item.request if isinstance(item, PreparedRequest) else item


class Intake:
    """The engine's inbox, its encoding threads, cancellations and outcome counts."""

    def __init__(self, prepare: Prepare, threads: int) -> None:
        self._prepare = prepare
        self._threads = threads
        self._inbox: queue.Queue[Pending] = queue.Queue()
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._encoding = 0
        # request id -> whether it was cancelled: a cancellation is a flag on a request in flight, so
        # one for an id that never came or already ended is not kept, and none outlives its request
        self._in_flight: dict[str, bool] = {}
        self._submitted_at: dict[str, float] = {}
        self._finished: dict[str, int] = {}

    # -- callers' threads ---------------------------------------------------------------------

    def submit(self, item: Item, sink: Sink) -> None:
        request_id = request_of(item).request_id
        with self._lock:
            self._in_flight.setdefault(request_id, False)
            self._submitted_at[request_id] = time.perf_counter()
            if isinstance(item, GenerationRequest):
                self._encoding += 1
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self._threads, "engine-admission")
        if isinstance(item, PreparedRequest):
            self._inbox.put((item, sink))
        else:
            assert self._pool is not None
            self._pool.submit(self._encode, item, sink)

    def _encode(self, request: GenerationRequest, sink: Sink) -> None:
        try:
            prepared = self._prepare(request)
        except Exception as exc:  # noqa: BLE001 - `prepare` returns errors; this is a bug, end the request anyway
            from pipelines.engine.results import engine_failure

            prepared = engine_failure(exc)
        finally:
            with self._lock:
                self._encoding -= 1
        if isinstance(prepared, ServiceError):
            self.end(request.request_id, "rejected")
            sink(StreamEvent(request.request_id, result=prepared))
        else:
            self._inbox.put((prepared, sink))

    def cancel(self, request_id: str) -> None:
        with self._lock:
            if request_id in self._in_flight:
                self._in_flight[request_id] = True

    # -- the worker ---------------------------------------------------------------------------

    def get(self, timeout: float) -> Pending | None:
        try:
            return self._inbox.get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self) -> list[Pending]:
        items = []
        while True:
            try:
                items.append(self._inbox.get_nowait())
            except queue.Empty:
                return items

    def track(self, pending: list[Pending]) -> None:
        """Requests handed to the engine's ``step`` directly (tests, warm-up) count as in flight too."""
        with self._lock:
            for item, _ in pending:
                self._in_flight.setdefault(request_of(item).request_id, False)

    def take_cancelled(self, request_id: str) -> bool:
        with self._lock:
            if self._in_flight.get(request_id, False):
                self._in_flight[request_id] = False
                return True
            return False

    def submitted_at(self, request_id: str) -> float:
        with self._lock:
            return self._submitted_at.pop(request_id, time.perf_counter())

    def end(self, request_id: str, outcome: str) -> None:
        """A request got its final event: forget it, count how it ended."""
        with self._lock:
            self._in_flight.pop(request_id, None)
            self._submitted_at.pop(request_id, None)
            self._finished[outcome] = self._finished.get(outcome, 0) + 1

    # -- any thread ---------------------------------------------------------------------------

    @property
    def queued(self) -> int:
        """Submitted, not yet handed to the worker: queued or being encoded."""
        return self._inbox.qsize() + self._encoding

    @property
    def in_flight(self) -> int:
        """Requests submitted and not ended: what any cancellation bookkeeping is bounded by."""
        with self._lock:
            return len(self._in_flight)

    @property
    def cancellations(self) -> int:
        """Cancellations recorded and not yet acted on."""
        with self._lock:
            return sum(self._in_flight.values())

    @property
    def finished(self) -> dict[str, int]:
        with self._lock:
            return dict(self._finished)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
