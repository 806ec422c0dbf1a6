"""Iteration-level ("continuous") batching over a loaded Qwen3-VL model, with token streaming.

One decode step advances every running sequence by one token. Between steps, finished or
cancelled sequences leave the batch (their KV-cache rows are dropped) and waiting requests join:
they are prefilled together, and their caches are left-padded and concatenated onto the running
cache. Each sequence keeps its own positions (text and M-RoPE, as ``generate`` computes them), its
own sampling parameters and generator, and its own stop conditions, so a greedy request produces
the same tokens alone, in a fixed batch, or joining a batch mid-way (tested in float32).

Plain Python and threads: :class:`ContinuousEngine` runs its loop on one worker thread; callers
``submit`` requests with a callback that receives :class:`StreamEvent` s on that thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from transformers import DynamicCache

from pipelines.core.errors import DeadlineExceededError, InvalidRequestError, RequestCancelledError, ServiceError
from pipelines.core.types import GenerationRequest, GenerationResult
from pipelines.engine.sampling import PerRequestSampler, _row_generator
from pipelines.engine.vlm import EncodedPrompt, VLMEngine

logger = logging.getLogger(__name__)

_REPLACEMENT = "\ufffd"  # what a partial UTF-8 sequence decodes to; never streamed until complete


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


@dataclass
class _Sequence:
    request: GenerationRequest
    sink: Sink
    prompt_tokens: int
    generator: torch.Generator | None
    hold_back: int  # characters kept back so a stop string is never partly streamed
    tokens: list[int] = field(default_factory=list)
    emitted: int = 0
    max_batch: int = 0  # most sequences that shared a decode step with this one
    submitted_at: float = 0.0
    admitted_at: float = 0.0
    first_token_at: float | None = None
    finish: str | None = None
    error: ServiceError | None = None


@dataclass
class _Batch:
    """The running sequences and their shared, left-padded KV cache."""

    sequences: list[_Sequence]
    cache: DynamicCache
    attention_mask: torch.Tensor  # (B, L)
    positions: torch.Tensor  # (4, B): the last position of each row (text, then M-RoPE t/h/w)


class ContinuousEngine:
    """Runs a :class:`VLMEngine`'s model with iteration-level batching on a worker thread.

    ``max_running`` caps the sequences in one decode step (the KV-cache budget). Submissions,
    cancellations and deadlines take effect between steps.
    """

    def __init__(
        self,
        engine: VLMEngine,
        max_running: int,
        *,
        idle_wait_s: float = 0.05,
        start: bool = True,
        on_step: Callable[[int], None] | None = None,
        max_consecutive_failures: int = 3,
    ) -> None:
        self.engine = engine
        self.model = engine.model
        self.max_running = max_running
        self.idle_wait_s = idle_wait_s
        self._inbox: queue.Queue[tuple[GenerationRequest, Sink]] = queue.Queue()
        self._cancelled: set[str] = set()
        self._submitted_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self._batch: _Batch | None = None
        self._stopping = threading.Event()
        self.steps = 0
        self.step_sizes: dict[int, int] = {}
        self.finished: dict[str, int] = {}  # how sequences ended: done, cancelled, deadline, error
        self.consecutive_failures = 0
        self.max_consecutive_failures = max_consecutive_failures
        self.on_step = on_step  # called with each decode step's batch size (metrics), on the worker thread
        self._thread = threading.Thread(target=self._run, name="continuous-engine", daemon=True)
        self._started = start
        if start:  # tests drive `step` by hand instead
            self._thread.start()

    # -- caller side (any thread) -------------------------------------------------------------

    def submit(self, request: GenerationRequest, sink: Sink) -> None:
        self._submitted_at[request.request_id] = time.perf_counter()
        self._inbox.put((request, sink))

    def cancel(self, request_id: str) -> None:
        """Drop a request at the next step boundary (a no-op once it finished)."""
        with self._lock:
            self._cancelled.add(request_id)

    def set_max_running(self, max_running: int) -> None:
        self.max_running = max_running

    @property
    def healthy(self) -> bool:
        """False once the worker thread died or steps keep failing (the replica should be replaced)."""
        alive = self._thread.is_alive() or not self._started
        return alive and self.consecutive_failures < self.max_consecutive_failures

    @property
    def running(self) -> int:
        batch = self._batch
        return len(batch.sequences) if batch else 0

    @property
    def waiting(self) -> int:
        return self._inbox.qsize()

    def close(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    # -- worker thread ------------------------------------------------------------------------

    def _run(self) -> None:
        pending: list[tuple[GenerationRequest, Sink]] = []
        while not self._stopping.is_set():
            if self._batch is None and not pending:
                try:
                    pending.append(self._inbox.get(timeout=self.idle_wait_s))
                except queue.Empty:
                    continue
            while True:
                try:
                    pending.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            try:
                pending = self.step(pending)
                self.consecutive_failures = 0
            except Exception as exc:  # noqa: BLE001 - a failed step fails its sequences, never the loop
                self.consecutive_failures += 1
                self._fail_all(exc)

    def step(self, pending: list[tuple[GenerationRequest, Sink]]) -> list[tuple[GenerationRequest, Sink]]:
        """Admit what fits, decode one token for every running sequence, retire finished ones.
        Returns the requests still waiting for a slot."""
        pending = self._drop_cancelled_waiting(pending)
        free = self.max_running - self.running
        admitted, pending = pending[: max(free, 0)], pending[max(free, 0) :]
        if admitted:
            self._admit(admitted)
        if self._batch is not None:
            self._decode()
            self._retire()
        return pending

    def _drop_cancelled_waiting(
        self, pending: list[tuple[GenerationRequest, Sink]]
    ) -> list[tuple[GenerationRequest, Sink]]:
        kept = []
        for request, sink in pending:
            if self._take_cancelled(request.request_id):
                self._submitted_at.pop(request.request_id, None)
                self._count("cancelled")
                sink(StreamEvent(request.request_id, result=_cancelled(request)))
            elif _past_deadline(request):
                self._submitted_at.pop(request.request_id, None)
                self._count("deadline")
                sink(StreamEvent(request.request_id, result=_timed_out()))
            else:
                kept.append((request, sink))
        return kept

    def _take_cancelled(self, request_id: str) -> bool:
        with self._lock:
            if request_id in self._cancelled:
                self._cancelled.discard(request_id)
                return True
            return False

    @torch.inference_mode()
    def _admit(self, admitted: list[tuple[GenerationRequest, Sink]]) -> None:
        encoded: list[tuple[EncodedPrompt, _Sequence]] = []
        for request, sink in admitted:
            submitted_at = self._submitted_at.pop(request.request_id, time.perf_counter())
            try:
                prompt = self.engine.encode(request)
            except ServiceError as exc:
                sink(StreamEvent(request.request_id, result=exc))
                continue
            except Exception:
                logger.exception("encoding failed for request %s", request.request_id)
                error = InvalidRequestError("The input could not be processed by the model.", code="bad_input")
                sink(StreamEvent(request.request_id, result=error))
                continue
            p = request.params
            now = time.perf_counter()
            sequence = _Sequence(
                request=request,
                sink=sink,
                prompt_tokens=int(prompt.input_ids.shape[0]),
                generator=None if p.greedy else _row_generator(p.seed, self.engine.device),
                hold_back=max((len(s) for s in p.stop), default=1) - 1,
                submitted_at=submitted_at,
                admitted_at=now,
            )
            encoded.append((prompt, sequence))
        if not encoded:
            return
        prompts = [prompt for prompt, _ in encoded]
        sequences = [sequence for _, sequence in encoded]
        try:
            logits, joined = self._prefill(prompts, sequences)
        except Exception as exc:  # noqa: BLE001 - the prefill fails its own sequences only
            error = self.engine._engine_failure(exc)
            for sequence in sequences:
                sequence.sink(StreamEvent(sequence.request.request_id, result=error))
            return
        self._append_tokens(sequences, logits)
        self._batch = joined if self._batch is None else _merge(self._batch, joined)

    def _prefill(self, prompts: list[EncodedPrompt], sequences: list[_Sequence]) -> tuple[torch.Tensor, _Batch]:
        inputs = self.engine.collate(prompts)
        extra = {k: v for k, v in inputs.items() if k != "input_ids"}
        # The model's own position rule (text positions from the mask, M-RoPE from the image grids),
        # exactly as `generate` computes it for a left-padded batch.
        positions = self.model._prepare_position_ids_for_generation(inputs["input_ids"], dict(extra))
        cache = DynamicCache(config=self.model.config)
        output = self.model(**inputs, position_ids=positions, cache=cache, use_cache=True, logits_to_keep=1)
        batch = _Batch(sequences, output.cache, inputs["attention_mask"], positions[:, :, -1].clone())
        return output.logits[:, -1, :], batch

    @torch.inference_mode()
    def _decode(self) -> None:
        batch = self._batch
        assert batch is not None
        size = len(batch.sequences)
        self.steps += 1
        self.step_sizes[size] = self.step_sizes.get(size, 0) + 1
        if self.on_step is not None:
            self.on_step(size)
        for sequence in batch.sequences:
            sequence.max_batch = max(sequence.max_batch, size)
        live = [s.finish is None for s in batch.sequences]
        if not any(live):
            return
        last = torch.tensor([s.tokens[-1] for s in batch.sequences], device=self.engine.device)[:, None]
        ones = torch.ones((size, 1), dtype=batch.attention_mask.dtype, device=batch.attention_mask.device)
        batch.attention_mask = torch.cat([batch.attention_mask, ones], dim=1)
        batch.positions = batch.positions + 1
        output = self.model(
            input_ids=last,
            attention_mask=batch.attention_mask,
            position_ids=batch.positions[:, :, None],
            cache=batch.cache,
            use_cache=True,
        )
        batch.cache = output.cache
        self._append_tokens(batch.sequences, output.logits[:, -1, :], live)

    def _append_tokens(self, sequences: list[_Sequence], logits: torch.Tensor, live: list[bool] | None = None) -> None:
        for row, sequence in enumerate(sequences):
            if live is not None and not live[row]:
                continue
            if sequence.generator is None:
                token = int(torch.argmax(logits[row]).item())
            else:
                token = PerRequestSampler._sample(logits[row].float(), sequence.request.params, sequence.generator)
            sequence.tokens.append(token)
            if sequence.first_token_at is None:
                sequence.first_token_at = time.perf_counter()
            self._advance(sequence)

    def _advance(self, sequence: _Sequence) -> None:
        """Decide whether the sequence finished, and stream what is safe to show."""
        p = sequence.request.params
        if sequence.tokens[-1] in self.engine.eos_token_ids or len(sequence.tokens) >= p.max_tokens:
            sequence.finish = "done"
            return
        if not p.stop and not sequence.request.stream:
            return  # nothing to decode until the end: no stop string to look for, nobody streaming
        text = self.engine._decode(sequence.tokens)
        if any(s in text[max(0, sequence.emitted - len(s)) :] for s in p.stop):
            sequence.finish = "done"
            return
        if not sequence.request.stream:
            return
        safe = len(text.rstrip(_REPLACEMENT)) - sequence.hold_back
        if safe > sequence.emitted:
            sequence.sink(StreamEvent(sequence.request.request_id, delta=text[sequence.emitted : safe]))
            sequence.emitted = safe

    def _retire(self) -> None:
        batch = self._batch
        assert batch is not None
        now_cancelled = [s for s in batch.sequences if s.finish is None and self._take_cancelled(s.request.request_id)]
        for sequence in now_cancelled:
            sequence.finish, sequence.error = "cancelled", _cancelled(sequence.request)
        for sequence in batch.sequences:
            if sequence.finish is None and _past_deadline(sequence.request):
                sequence.finish, sequence.error = "deadline", _timed_out()
        keep = [i for i, s in enumerate(batch.sequences) if s.finish is None]
        for sequence in batch.sequences:
            if sequence.finish is not None:
                self._complete(sequence)
        if not keep:
            self._batch = None
            return
        if len(keep) < len(batch.sequences):
            _select_rows(batch, keep)

    def _complete(self, sequence: _Sequence) -> None:
        request_id = sequence.request.request_id
        self._count(sequence.finish or "error")
        if sequence.error is not None:
            sequence.sink(StreamEvent(request_id, result=sequence.error))
            return
        result = self.engine._finish(sequence.request, sequence.prompt_tokens, sequence.tokens, sequence.max_batch)
        result.queued_s = sequence.admitted_at - sequence.submitted_at
        if sequence.first_token_at is not None:
            result.first_token_s = sequence.first_token_at - sequence.submitted_at
            result.decode_s = time.perf_counter() - sequence.first_token_at
        # The hold-back guarantees the streamed prefix is a prefix of the final text.
        sequence.sink(StreamEvent(request_id, delta=result.text[sequence.emitted :], result=result))

    def _count(self, reason: str) -> None:
        self.finished[reason] = self.finished.get(reason, 0) + 1

    def _fail_all(self, exc: Exception) -> None:
        error = self.engine._engine_failure(exc)
        batch, self._batch = self._batch, None
        for sequence in batch.sequences if batch else []:
            sequence.sink(StreamEvent(sequence.request.request_id, result=error))


def _cancelled(request: GenerationRequest) -> ServiceError:
    return RequestCancelledError(f"Request {request.request_id} was cancelled.")


def _timed_out() -> ServiceError:
    return DeadlineExceededError("The request did not finish before its deadline.")


def _past_deadline(request: GenerationRequest) -> bool:
    return request.deadline is not None and time.time() >= request.deadline


def _left_pad(tensor: torch.Tensor, length: int, dim_from_end: int) -> torch.Tensor:
    missing = length - tensor.shape[-dim_from_end]
    if missing <= 0:
        return tensor
    pad = [0, 0] * (dim_from_end - 1) + [missing, 0]
    return F.pad(tensor, pad)


def _merge(running: _Batch, joining: _Batch) -> _Batch:
    """Joining rows go below the running ones; the shorter cache is left-padded (masked out)."""
    length = max(running.attention_mask.shape[1], joining.attention_mask.shape[1])
    for mine, theirs in zip(running.cache.layers, joining.cache.layers, strict=True):
        mine.keys = torch.cat([_left_pad(mine.keys, length, 2), _left_pad(theirs.keys, length, 2)])
        mine.values = torch.cat([_left_pad(mine.values, length, 2), _left_pad(theirs.values, length, 2)])
    mask = torch.cat([_left_pad(running.attention_mask, length, 1), _left_pad(joining.attention_mask, length, 1)])
    positions = torch.cat([running.positions, joining.positions], dim=1)
    return _Batch(running.sequences + joining.sequences, running.cache, mask, positions)


def _select_rows(batch: _Batch, keep: list[int]) -> None:
    """Keep only ``keep`` rows, and drop leading columns that no remaining row attends to."""
    index = torch.tensor(keep, device=batch.attention_mask.device)
    mask = batch.attention_mask.index_select(0, index)
    used = mask.any(dim=0).nonzero()
    first = int(used[0].item()) if used.numel() else 0
    batch.attention_mask = mask[:, first:]
    for layer in batch.cache.layers:
        layer.keys = layer.keys.index_select(0, index)[:, :, first:, :]
        layer.values = layer.values.index_select(0, index)[:, :, first:, :]
    batch.positions = batch.positions.index_select(1, index)
    batch.sequences = [batch.sequences[i] for i in keep]
