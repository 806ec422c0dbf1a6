"""Iteration-level ("continuous") batching over a loaded Qwen3-VL model, with token streaming.

One engine step: waiting requests take free KV-cache slots; prefill runs, up to a token budget,
straight into those slots (long prompts in chunks over several steps); sequences whose prefill
completed join the decode batch; one decode step advances every decoding sequence by one token;
finished, cancelled or past-deadline sequences leave, freeing their slots. Nothing in the KV
cache is ever copied: see ``kv_cache``. Each sequence keeps its own positions (text and M-RoPE,
as ``generate`` computes them), its own sampling parameters and generator, and its own stop
conditions, so a greedy request produces the same tokens alone, in a batch, or joining mid-way
(tested in float32 against ``generate``).

Per decode step the host does one thing with device data: a single copy of the step's tokens
(sampled on the device, batched), from which it checks end-of-sequence, ``max_tokens`` and
stop strings and streams text (incrementally detokenized). On a GPU the decode forward replays a
CUDA graph per batch-size bucket (``runner``); on a CPU it runs the same function eagerly.

Threads: :class:`ContinuousEngine` runs its loop on one worker thread; requests submitted
unencoded are encoded on admission threads first, never on the worker. Callers ``submit`` with
a sink that receives :class:`StreamEvent` s on the worker thread. It implements
``pipelines.engine.protocol.Engine``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from pipelines.core.errors import InvalidRequestError, ServiceError
from pipelines.core.types import GenerationRequest, GenerationResult
from pipelines.engine.attention import cache_layout, install
from pipelines.engine.config import EngineConfig, SchedulerConfig
from pipelines.engine.intake import Intake, Pending, request_of
from pipelines.engine.kv_cache import CacheShape, SlotAllocator, SlotKVCache
from pipelines.engine.prefill import Prefiller, PrefillJob
from pipelines.engine.protocol import EngineStats, PreparedRequest, Sink, StreamEvent, generate_all
from pipelines.engine.results import engine_failure
from pipelines.engine.runner import DecodeRunner, DecodeState
from pipelines.engine.sampling import SamplingPlan, sample_tokens
from pipelines.engine.sequence import Sequence, cancelled_error, past_deadline, timed_out_error
from pipelines.engine.vlm import VLMEngine, warmup_requests

__all__ = ["ContinuousEngine", "StreamEvent", "create_engine"]

logger = logging.getLogger(__name__)


@dataclass
class StepTimes:
    """Where the last engine step spent its time (seconds), for benchmarks and profiling."""

    prefill_s: float = 0.0
    prefill_tokens: int = 0
    decode_s: float = 0.0
    decode_rows: int = 0
    total_s: float = 0.0


class ContinuousEngine:
    """Runs a :class:`VLMEngine`'s model with iteration-level batching on a worker thread.

    ``max_running`` caps the sequences holding a KV-cache slot (prefilling or decoding) and sizes
    the cache. Submissions, cancellations and deadlines take effect between steps. ``start=False``
    leaves the thread unstarted so tests drive :meth:`step` by hand.
    """

    def __init__(
        self,
        engine: VLMEngine,
        max_running: int,
        *,
        idle_wait_s: float | None = None,
        start: bool = True,
        on_step: Callable[[int], None] | None = None,
        max_consecutive_failures: int | None = None,
        scheduler: SchedulerConfig | None = None,
        warmup: bool | None = None,
    ) -> None:
        self.engine = engine
        self.model = engine.model
        self.scheduler = scheduler or engine.config.scheduler
        self.max_running = max_running
        self.idle_wait_s = idle_wait_s if idle_wait_s is not None else self.scheduler.idle_wait_s
        self.max_consecutive_failures = max_consecutive_failures or self.scheduler.max_consecutive_failures
        self.on_step = on_step  # called with each decode step's batch size (metrics), on the worker thread
        self.backend = install(self.model)
        self.intake = Intake(self.prepare, self.scheduler.admission_threads)
        self._waiting: list[Pending] = []
        self._resize_lock = threading.Lock()  # stats() never sees a half-resized cache
        self._prefilling: list[Sequence] = []
        self._decoding: dict[int, Sequence] = {}  # slot -> sequence
        self._plan: SamplingPlan | None = None
        self._plan_stale = False
        self._resize_to: int | None = None
        self.steps = 0
        self.step_sizes: dict[int, int] = {}
        self.consecutive_failures = 0
        self.last_step = StepTimes()
        # the clock of `last_step`; a benchmark on a shared CPU uses time.thread_time
        self.step_clock: Callable[[], float] = time.perf_counter
        self._allocate(max_running)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="continuous-engine", daemon=True)
        self._started = start
        self._ready = False
        if start:  # tests drive `step` by hand instead
            self._thread.start()
        if warmup if warmup is not None else engine.config.warmup:
            self.warmup()
        self._ready = True

    # -- KV cache and decode buffers ---------------------------------------------------------

    def _allocate(self, slots: int) -> None:
        text = self.model.config.text_config
        self.shape = CacheShape(
            layers=text.num_hidden_layers,
            slots=slots,
            max_len=self.scheduler.max_context_tokens,
            kv_heads=text.num_key_value_heads,
            head_dim=getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads,
            dtype=self.model.dtype,
        )
        device = self.engine.device
        self.cache = SlotKVCache(self.shape, device, cache_layout(self.backend))
        vocab = self.model.lm_head.out_features
        self.state = DecodeState(slots, self.shape.max_len, vocab, self.model.dtype, device)
        self.slots = SlotAllocator(slots)
        self.prefiller = Prefiller(self.model, self.cache)
        self.runner = DecodeRunner(self.model, self.cache, self.state, self.backend, self.scheduler)
        if device.type == "cuda":
            self._host_tokens = torch.zeros(2 * slots, dtype=torch.long, pin_memory=True)
            self._copied = torch.cuda.Event()
            if self.scheduler.cuda_graphs:
                with torch.inference_mode():
                    self.runner.capture()

    def _resize_if_idle(self) -> None:
        if self._resize_to is None or self._prefilling or self._decoding:
            return
        slots, previous, self._resize_to = self._resize_to, self.shape.slots, None
        with self._resize_lock:
            del self.runner, self.prefiller, self.cache, self.state  # free the old buffers first
            if self.engine.device.type == "cuda":
                torch.cuda.empty_cache()
            try:
                self._allocate(slots)
            except torch.OutOfMemoryError:
                logger.error("no memory for %d KV-cache slots; keeping %d", slots, previous)
                self._allocate(previous)
                self.max_running = min(self.max_running, previous)
                return
        logger.info("KV cache resized to %d slots of %d tokens", slots, self.shape.max_len)

    # -- caller side (any thread) -------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._ready and self.engine.ready

    def prepare(self, request: GenerationRequest) -> PreparedRequest | ServiceError:
        """Encode a request (CPU work: call it from an executor), refusing one whose prompt cannot fit a slot."""
        prompt = self.engine.encoder.encode_or_error(request)
        if isinstance(prompt, ServiceError):
            return prompt
        if prompt.length >= self.scheduler.max_context_tokens:
            return InvalidRequestError(
                f"The prompt is {prompt.length} tokens; this model serves at most "
                f"{self.scheduler.max_context_tokens - 1} prompt tokens.",
                param="messages",
                code="context_length_exceeded",
            )
        return PreparedRequest(request, prompt)

    def submit(self, request: GenerationRequest | PreparedRequest, sink: Sink) -> None:
        self.intake.submit(request, sink)

    def cancel(self, request_id: str) -> None:
        """Drop a request at the next step boundary (a no-op once it finished)."""
        self.intake.cancel(request_id)

    def set_max_running(self, max_running: int) -> None:
        """Takes effect now for admission; a larger value than the cache has slots regrows the cache
        (and recaptures its graphs) at the next moment no sequence holds a slot."""
        self.max_running = max_running
        if max_running > self.shape.slots:
            self._resize_to = max_running

    @property
    def healthy(self) -> bool:
        """False once the worker thread died or steps keep failing (the replica should be replaced)."""
        alive = self._thread.is_alive() or not self._started
        return alive and self.consecutive_failures < self.max_consecutive_failures

    @property
    def running(self) -> int:
        """Sequences holding a KV-cache slot (prefilling or decoding)."""
        return len(self._prefilling) + len(self._decoding)

    @property
    def waiting(self) -> int:
        return self.intake.queued + len(self._waiting)

    @property
    def finished(self) -> dict[str, int]:
        """How requests ended: done, cancelled, deadline, error, rejected."""
        return self.intake.finished

    def stats(self) -> EngineStats:
        with self._resize_lock:
            return self._stats()

    def _stats(self) -> EngineStats:
        return EngineStats(
            steps=self.steps,
            step_sizes=dict(self.step_sizes),
            finished=dict(self.finished),
            running=self.running,
            prefilling=len(self._prefilling),
            waiting=self.waiting,
            consecutive_failures=self.consecutive_failures,
            healthy=self.healthy,
            max_running=self.max_running,
            slots=self.shape.slots,
            max_context_tokens=self.shape.max_len,
            kv_cache_bytes=self.shape.bytes,
            attention=self.backend,
            cuda_graphs=len(self.runner.graphs),
            graph_error=self.runner.graph_error,
        )

    def warmup(self) -> None:
        """Serve one text and one image request through the engine (graphs are captured already)."""
        started = time.perf_counter()
        requests = warmup_requests()
        results = generate_all(self, requests) if self._started else self._drive(requests)
        for result in results:
            if isinstance(result, ServiceError):
                raise RuntimeError(f"warm-up generation failed: {result.message}")
        logger.info("continuous engine warm-up done in %.2fs", time.perf_counter() - started)

    def _drive(self, requests: list[GenerationRequest]) -> list[GenerationResult | ServiceError]:
        """Serve ``requests`` by stepping on this thread (an engine whose worker is not started)."""
        results: dict[str, GenerationResult | ServiceError] = {}

        def collect(event: StreamEvent) -> None:
            if event.result is not None:
                results[event.request_id] = event.result

        pending: list[Pending] = [(r, collect) for r in requests]
        while pending or self.running:
            pending = self.step(pending)
        return [results[r.request_id] for r in requests]

    def close(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.intake.close()

    # -- worker thread ------------------------------------------------------------------------

    def _run(self) -> None:
        pending: list[Pending] = []
        while not self._stopping.is_set():
            if not self.running and not pending:
                item = self.intake.get(self.idle_wait_s)
                if item is None:
                    continue
                pending.append(item)
            pending += self.intake.drain()
            try:
                pending = self.step(pending)
                self.consecutive_failures = 0
            except Exception as exc:  # noqa: BLE001 - a failed step fails its sequences, never the loop
                self.consecutive_failures += 1
                pending = list(self._waiting)
                self._fail_all(exc)

    def step(self, pending: list[Pending]) -> list[Pending]:
        """Admit what fits, prefill up to the budget, decode one token for every decoding sequence,
        retire finished ones. Returns the requests still waiting for a slot."""
        started = self.step_clock()
        self.last_step = StepTimes()
        self._waiting = self._drop_cancelled_waiting(pending)
        self._resize_if_idle()
        self._admit()
        self._prefill()
        if self._decoding:
            decode_started = self.step_clock()
            self._decode()
            self.last_step.decode_s = self.step_clock() - decode_started
            self.last_step.decode_rows = len(self._decoding)
        self._retire()
        self.last_step.total_s = self.step_clock() - started
        return self._waiting

    def _drop_cancelled_waiting(self, pending: list[Pending]) -> list[Pending]:
        kept = []
        self.intake.track(pending)
        for item, sink in pending:
            request = request_of(item)
            if self.intake.take_cancelled(request.request_id):
                self._final(request.request_id, sink, cancelled_error(request), "cancelled")
            elif past_deadline(request):
                self._final(request.request_id, sink, timed_out_error(), "deadline")
            else:
                kept.append((item, sink))
        return kept

    def _admit(self) -> None:
        while self._waiting and self.slots.free and self.running < self.max_running:
            item, sink = self._waiting.pop(0)
            try:
                self._start(item, sink)
            except Exception as exc:  # noqa: BLE001 - popped from the queue: it must end here, never hang
                self._final(request_of(item).request_id, sink, engine_failure(exc), "error")

    def _start(self, item: GenerationRequest | PreparedRequest, sink: Sink) -> None:
        prepared = item if isinstance(item, PreparedRequest) else self.prepare(item)
        if isinstance(prepared, ServiceError):
            self._final(request_of(item).request_id, sink, prepared, "rejected")
            return
        request = prepared.request
        submitted_at = self.intake.submitted_at(request.request_id)
        sequence = Sequence.start(
            request, sink, prepared.prompt.length, self.shape.max_len, self.engine, submitted_at=submitted_at
        )
        sequence.job = PrefillJob(prepared.prompt, self.slots.take())
        self._prefilling.append(sequence)

    def _prefill(self) -> None:
        budget = self.scheduler.prefill_chunk_tokens
        while budget > 0 and self._prefilling:
            sequence = self._prefilling[0]
            job = sequence.job
            assert job is not None
            prefill_started = self.step_clock()
            try:
                used, logits = self.prefiller.run(job, budget)
                if logits is not None:
                    with torch.inference_mode():
                        first = sample_tokens(logits, sequence.own_plan(self.engine.device))
                        self.state.join(job.slot, job.prompt.length, job.prompt.positions[:, -1], first)
            except Exception as exc:  # noqa: BLE001 - the prefill fails its own sequence only
                self._prefilling.pop(0)
                self._release(job.slot)
                sequence.fail(engine_failure(exc))
                self._complete(sequence)
                continue
            budget -= used
            self.last_step.prefill_s += self.step_clock() - prefill_started
            self.last_step.prefill_tokens += used
            if logits is not None:
                self._prefilling.pop(0)
                sequence.slot, sequence.job, sequence.awaiting_first = job.slot, None, True
                self._decoding[job.slot] = sequence
                self._plan_stale = True

    @torch.inference_mode()
    def _decode(self) -> None:
        size = len(self._decoding)
        self.steps += 1
        self.step_sizes[size] = self.step_sizes.get(size, 0) + 1
        if self.on_step is not None:
            self.on_step(size)
        if self._plan_stale:
            rows = [
                (slot, s.request.params, s.generator) for slot, s in self._decoding.items() if s.generator is not None
            ]
            self._plan, self._plan_stale = SamplingPlan.build(rows, self.engine.device), False
        span = self.slots.span
        longest = max(s.cached_tokens for s in self._decoding.values()) + 1
        logits = self.runner.step(span, longest)
        sampled = sample_tokens(logits, self._plan)
        inputs_then_outputs = torch.stack([self.state.tokens[:span, 0], sampled])
        self.state.tokens[:span, 0].copy_(sampled)
        fed, new = self._to_host(inputs_then_outputs, span)
        now = time.perf_counter()
        for slot, sequence in self._decoding.items():
            sequence.max_batch = max(sequence.max_batch, size)
            if sequence.awaiting_first:  # the token its prefill sampled, fed to this step
                sequence.awaiting_first = False
                sequence.advance(fed[slot], now)
            if sequence.finish is None:
                sequence.advance(new[slot], now)

    def _to_host(self, tokens: torch.Tensor, span: int) -> tuple[list[int], list[int]]:
        """The step's one device-to-host transfer (and its one sync)."""
        if tokens.device.type != "cuda":
            fed, new = tokens.tolist()
            return fed, new
        host = self._host_tokens[: 2 * span].view(2, span)  # contiguous pinned memory: a true async copy
        host.copy_(tokens, non_blocking=True)
        self._copied.record()
        self._copied.synchronize()
        fed, new = host.tolist()
        return fed, new

    def _retire(self) -> None:
        for sequence in [*self._prefilling, *self._decoding.values()]:
            if sequence.finish is None and self.intake.take_cancelled(sequence.request.request_id):
                sequence.fail(cancelled_error(sequence.request), "cancelled")
            elif sequence.finish is None and past_deadline(sequence.request):
                sequence.fail(timed_out_error(), "deadline")
        for sequence in [s for s in self._prefilling if s.finish is not None]:
            self._prefilling.remove(sequence)
            self._release(sequence.job.slot if sequence.job else None)
            self._complete(sequence)
        for slot, sequence in [(k, s) for k, s in self._decoding.items() if s.finish is not None]:
            del self._decoding[slot]
            self._plan_stale = True
            self._release(slot)
            self._complete(sequence)

    def _release(self, slot: int | None) -> None:
        if slot is not None:
            self.state.leave(slot)
            self.slots.release(slot)

    def _complete(self, sequence: Sequence) -> None:
        self.intake.end(sequence.request.request_id, sequence.finish or "error")
        sequence.sink(sequence.final_event(self.engine))

    def _final(self, request_id: str, sink: Sink, error: ServiceError, outcome: str) -> None:
        """End a request that never got a sequence (refused, cancelled or late while waiting)."""
        self.intake.end(request_id, outcome)
        sink(StreamEvent(request_id, result=error))

    def _fail_all(self, exc: Exception) -> None:
        error = engine_failure(exc)
        sequences = [*self._prefilling, *self._decoding.values()]
        self._prefilling, self._decoding, self._plan = [], {}, None
        self.slots.release_all()
        self.state.reset()
        for sequence in sequences:
            sequence.fail(error)
            self._complete(sequence)


def create_engine(
    config: EngineConfig, *, max_running: int, on_step: Callable[[int], None] | None = None
) -> ContinuousEngine:
    """Load the model and start a continuous engine on it, warmed up as ``config.warmup`` says.

    What the VLM deployment and the offline job both call: the same engine, the same decoding.
    """
    model = VLMEngine(config.model_copy(update={"warmup": False}))
    return ContinuousEngine(model, max_running, on_step=on_step, warmup=config.warmup)
