"""One request's life inside the continuous engine: its tokens, text, stop rules and timings.

The host decides everything about a sequence from the tokens it receives once per step: whether
it ended (end-of-sequence, its ``max_tokens``, a stop string, its slot is full), what text is
safe to stream, and, at the end, its result. No device value is read here.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import torch

from pipelines.core.errors import DeadlineExceededError, RequestCancelledError, ServiceError
from pipelines.core.types import GenerationRequest, GenerationResult
from pipelines.engine.detokenize import IncrementalText
from pipelines.engine.prefill import PrefillJob
from pipelines.engine.protocol import Sink, StreamEvent
from pipelines.engine.sampling import SamplingPlan, seeded_generator
from pipelines.engine.vlm import VLMEngine

logger = logging.getLogger(__name__)


@dataclass
class Sequence:
    request: GenerationRequest
    sink: Sink
    prompt_tokens: int
    max_new_tokens: int  # its max_tokens, or fewer when its slot cannot hold more
    eos_token_ids: frozenset[int]
    generator: torch.Generator | None
    text: IncrementalText | None  # only when streaming or looking for stop strings
    submitted_at: float
    admitted_at: float
    tokens: list[int] = field(default_factory=list)
    job: PrefillJob | None = None  # while prefilling
    slot: int | None = None  # once decoding
    awaiting_first: bool = False  # joined: its prefill's token is fed to the next decode step
    max_batch: int = 0  # most sequences that shared a decode step with this one
    first_token_at: float | None = None
    finish: str | None = None  # done, cancelled, deadline, error
    error: ServiceError | None = None

    @classmethod
    def start(
        cls,
        request: GenerationRequest,
        sink: Sink,
        prompt_tokens: int,
        slot_tokens: int,
        engine: VLMEngine,
        *,
        submitted_at: float,
    ) -> Sequence:
        p = request.params
        wants_text = bool(p.stop) or request.stream
        return cls(
            request=request,
            sink=sink,
            prompt_tokens=prompt_tokens,
            # the slot holds the prompt and every generated token but the last (never fed back)
            max_new_tokens=min(p.max_tokens, slot_tokens - prompt_tokens + 1),
            eos_token_ids=frozenset(engine.eos_token_ids),
            generator=None if p.greedy else seeded_generator(p.seed, engine.device),
            text=IncrementalText(engine.tokenizer, p.stop) if wants_text else None,
            submitted_at=submitted_at,
            admitted_at=time.perf_counter(),
        )

    @property
    def cached_tokens(self) -> int:
        """Tokens in its KV-cache slot: the prompt, and every generated token already fed back."""
        return self.prompt_tokens + max(len(self.tokens) - 1, 0)

    def own_plan(self, device: torch.device) -> SamplingPlan | None:
        """Sampling plan for this sequence alone (its first token, sampled from its prefill)."""
        if self.generator is None:
            return None
        return SamplingPlan.build([(0, self.request.params, self.generator)], device)

    def advance(self, token: int, now: float) -> None:
        """Take the next token: decide whether the sequence ended, and stream what is safe to show."""
        self.tokens.append(token)
        if self.first_token_at is None:
            self.first_token_at = now
        if token in self.eos_token_ids or len(self.tokens) >= self.max_new_tokens:
            self.finish = "done"
            return
        if self.text is None:
            return  # nothing to decode until the end: no stop string to look for, nobody streaming
        self.text.push(token)
        if self.text.stopped:
            self.finish = "done"
            return
        if self.request.stream:
            delta = self.text.take_delta()
            if delta:
                self.sink(StreamEvent(self.request.request_id, delta=delta))

    def fail(self, error: ServiceError, finish: str = "error") -> None:
        self.finish, self.error = finish, error

    def final_event(self, engine: VLMEngine) -> StreamEvent:
        """The last event: the result (with the text not streamed yet), or the error."""
        request_id = self.request.request_id
        if self.error is not None:
            return StreamEvent(request_id, result=self.error)
        result: GenerationResult = engine.finish(self.request, self.prompt_tokens, self.tokens, self.max_batch)
        result.queued_s = self.admitted_at - self.submitted_at
        if self.first_token_at is not None:
            result.first_token_s = self.first_token_at - self.submitted_at
            result.decode_s = time.perf_counter() - self.first_token_at
        streamed = self.text.text[: self.text.emitted] if self.text is not None else ""
        if not result.text.startswith(streamed):  # the incremental decode guarantees it; say so if not
            logger.error("streamed text of %s is not a prefix of its final text", request_id)
        return StreamEvent(request_id, delta=result.text[len(streamed) :], result=result)


def cancelled_error(request: GenerationRequest) -> ServiceError:
    return RequestCancelledError(f"Request {request.request_id} was cancelled.")


def timed_out_error() -> ServiceError:
    return DeadlineExceededError("The request did not finish before its deadline.")


def past_deadline(request: GenerationRequest) -> bool:
    return request.deadline is not None and time.time() >= request.deadline
