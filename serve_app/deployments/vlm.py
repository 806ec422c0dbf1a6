"""The GPU deployment: Qwen3-VL with continuous batching, streamed or not.

It drives the engine only through ``pipelines.engine``'s protocol (``prepare``, ``submit``,
``cancel``, ``stats``, ``healthy``), the same engine the offline job runs. Encoding (chat
template, image processing) runs in the replica's executor before a request is submitted, so it
never stalls the decode thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from ray import serve

from pipelines.core.errors import ModelNotReadyError, ServiceError
from pipelines.core.types import GenerationRequest, GenerationResult
from pipelines.engine import Engine, EngineConfig, PreparedRequest, StreamEvent, create_engine
from serve_app.config import BatchingConfig
from serve_app.metrics import VLMMetrics

logger = logging.getLogger("ray.serve")

# Admission groups that may be in flight at once: each stays open while its requests stream, so
# this bounds how many groups share the running batch (max_ongoing_requests should be at least
# max_batch_size * this, or groups never fill).
MAX_CONCURRENT_ADMISSIONS = 4

_Slot = StreamEvent | None | type[StopIteration]


@serve.deployment(name="VLM")
class VLMDeployment:
    """Loads the model in the constructor (Serve routes no traffic before that).

    ``generate_stream`` yields :class:`StreamEvent` s (text deltas, then the final result);
    ``generate`` returns the final result only. Both go through one streaming ``@serve.batch``
    that hands each admission group to the continuous engine. Per-request failures come back as
    values: an exception inside a ``@serve.batch`` function would fail every caller.
    """

    def __init__(self, engine: dict[str, Any]) -> None:
        self.config = EngineConfig.model_validate(engine)
        self.metrics = VLMMetrics()
        self.engine: Engine = create_engine(
            self.config, max_running=BatchingConfig().max_running, on_step=self._observe_step
        )

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        batching = BatchingConfig.model_validate(user_config)
        self._stream_batch.set_max_batch_size(batching.max_batch_size)
        self._stream_batch.set_batch_wait_timeout_s(batching.batch_wait_timeout_s)
        self.engine.set_max_running(batching.max_running)
        logger.info("batching set to %s", batching.model_dump())

    async def generate(self, request: GenerationRequest) -> GenerationResult | ServiceError:
        final: GenerationResult | ServiceError = ModelNotReadyError("The model produced no result.")
        async for event in self.generate_stream(request):
            if event.result is not None:
                final = event.result
        return final

    async def generate_stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        """Text deltas as they are made; the last event carries the result. If the caller goes away
        (client disconnect), the request leaves the running batch at the next step."""
        if not self.engine.ready:
            yield StreamEvent(request.request_id, result=ModelNotReadyError("The model is still loading."))
            return
        prepared = await asyncio.get_running_loop().run_in_executor(None, self.engine.prepare, request)
        if isinstance(prepared, ServiceError):
            self._observe(prepared)
            yield StreamEvent(request.request_id, result=prepared)
            return
        finished = False
        try:
            async for event in self._stream_batch(prepared):
                if event is not None:
                    finished = event.final
                    if event.result is not None:
                        self._observe(event.result)
                    yield event
        finally:
            if not finished:
                self.engine.cancel(request.request_id)

    @serve.batch(
        max_batch_size=BatchingConfig().max_batch_size,
        batch_wait_timeout_s=BatchingConfig().batch_wait_timeout_s,
        max_concurrent_batches=MAX_CONCURRENT_ADMISSIONS,
    )
    async def _stream_batch(self, requests: list[PreparedRequest]) -> AsyncIterator[list[_Slot]]:
        self.metrics.admission_group.observe(len(requests))
        loop = asyncio.get_running_loop()
        arrivals: asyncio.Queue[tuple[int, StreamEvent]] = asyncio.Queue()
        for index, request in enumerate(requests):
            self.engine.submit(
                request, lambda event, i=index: loop.call_soon_threadsafe(arrivals.put_nowait, (i, event))
            )
        done = [False] * len(requests)
        while not all(done):
            ready = [await arrivals.get()]
            while not arrivals.empty():
                ready.append(arrivals.get_nowait())
            slots: list[_Slot] = [StopIteration if d else None for d in done]
            for index, event in ready:
                slots[index] = _merge(slots[index], event)
            for index, slot in enumerate(slots):
                if isinstance(slot, StreamEvent) and slot.final:
                    done[index] = True
            yield slots

    def _observe_step(self, size: int) -> None:
        try:
            self.metrics.decode_batch.observe(size)
        except Exception:  # metrics never fail a decode step
            logger.exception("recording metrics failed")

    def _observe(self, result: GenerationResult | ServiceError) -> None:
        try:
            self._record(result)
        except Exception:  # metrics never fail a request (logger.exception re-reports it)
            logger.exception("recording metrics failed")

    def _record(self, result: GenerationResult | ServiceError) -> None:
        if isinstance(result, ServiceError):
            self.metrics.requests.inc(tags={"outcome": result.code})
            return
        self.metrics.requests.inc(tags={"outcome": result.finish_reason})
        if result.completion_tokens > 0:  # Ray counters refuse 0
            self.metrics.output_tokens.inc(result.completion_tokens)
        if result.queued_s is not None:
            self.metrics.queue_wait.observe(result.queued_s)
        if result.first_token_s is not None:
            self.metrics.time_to_first_token.observe(result.first_token_s)
        if result.decode_s and result.completion_tokens > 1:
            self.metrics.output_tokens_per_second.observe((result.completion_tokens - 1) / result.decode_s)

    def model_info(self) -> dict[str, Any]:
        return {
            "name": self.config.name,
            "model": self.config.model,
            "revision": self.config.revision,
            "quantization": self.config.quantization,
            "version": self.config.version,
            "ready": self.engine.ready,
        }

    def engine_stats(self) -> dict[str, Any]:
        """Decode steps by batch size, how requests ended, the sequences running and waiting now,
        and the engine's sizes (KV-cache slots and bytes, attention backend, CUDA graphs)."""
        return self.engine.stats().as_dict()

    def check_health(self) -> None:
        """Serve replaces the replica when this raises: the model is not loaded, the engine's worker
        thread died, or decode steps keep failing (e.g. a wedged GPU)."""
        if not self.engine.ready:
            raise RuntimeError("model not ready")
        if not self.engine.healthy:
            failures = self.engine.stats().consecutive_failures
            raise RuntimeError(f"engine unhealthy: {failures} failed steps in a row")


def _merge(slot: _Slot, event: StreamEvent) -> StreamEvent:
    """Several events for one request in one round: deltas concatenated, the final result kept."""
    if not isinstance(slot, StreamEvent):
        return event
    return StreamEvent(event.request_id, slot.delta + event.delta, event.result or slot.result)
