"""One streamed chat completion: the model's deltas pass the stream screen before they become events.

Role chunk first (with the input's filter results), content chunks as the screen releases text,
a last chunk with ``finish_reason`` and the output's filter results, a usage chunk when asked
for, then ``[DONE]``. A block ends the stream with ``finish_reason: "content_filter"`` and stops
generation; so does the client going away. A failure after the first chunk is an SSE ``error``
event followed by ``[DONE]`` (OpenAI's clients raise on it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import InitVar, dataclass, field

from pipelines.core.errors import DeadlineExceededError, ServiceError
from pipelines.core.types import GenerationRequest, GenerationResult
from pipelines.engine.continuous import StreamEvent
from pipelines.moderation.policy.engine import PolicyDecision
from pipelines.moderation.request_text import redacted_request
from pipelines.moderation.stream_screen import CheckKind, StreamScreen
from serve_app.api.errors import as_service_error
from serve_app.api.protocol import (
    ChatCompletionChunk,
    ChunkChoice,
    DeltaOut,
    ErrorDetail,
    ErrorResponse,
    PromptFilterResult,
)
from serve_app.config import IngressUserConfig
from serve_app.serving.backends import Model, Policy, TokenStream
from serve_app.serving.completion import usage_of
from serve_app.serving.decisions import category_results, image_findings

logger = logging.getLogger("ray.serve")

DONE = "data: [DONE]\n\n"


@dataclass(frozen=True)
class StreamLimits:
    """How streamed text is screened (pipelines/moderation/stream_screen.py)."""

    hold_back_chars: int
    approve_chars: int
    check_timeout_s: float

    @classmethod
    def of(cls, settings: IngressUserConfig) -> StreamLimits:
        return cls(settings.stream_hold_back_chars, settings.stream_approve_chars, settings.stream_check_timeout_s)


@dataclass(eq=False, kw_only=True)
class ChatStream:
    model: Model
    policy: Policy
    model_name: str
    limits: InitVar[StreamLimits]
    request: GenerationRequest
    prompt: str
    input_decision: PolicyDecision
    include_usage: bool
    created: int = field(default_factory=lambda: int(time.time()), init=False)

    def __post_init__(self, limits: StreamLimits) -> None:
        self.check_timeout_s = limits.check_timeout_s
        self.screen = StreamScreen(self._check, limits.hold_back_chars, limits.approve_chars)

    async def _check(self, text: str, kind: CheckKind) -> PolicyDecision:
        try:
            async with asyncio.timeout(self.check_timeout_s):
                return await self.policy.check_output(
                    text=text,
                    request_id=self.request.request_id,
                    prompt=self.prompt,
                    partial=kind != "final",
                    all_layers=kind == "approve",
                )
        except TimeoutError:
            raise DeadlineExceededError(
                "The output screen did not answer in time; the stream was stopped.", code="screen_timeout"
            ) from None

    def _chunk(self, choices: list[ChunkChoice], **fields: object) -> str:
        chunk = ChatCompletionChunk(
            id=f"chatcmpl-{self.request.request_id}",
            created=self.created,
            model=self.model_name,
            choices=choices,
            **fields,  # type: ignore[arg-type]
        )
        return f"data: {chunk.model_dump_json(exclude_none=True)}\n\n"

    def _content(self, text: str) -> str:
        return self._chunk([ChunkChoice(delta=DeltaOut(content=text))])

    def _end(self, finish_reason: str, output: PolicyDecision | None, result: GenerationResult | None) -> list[str]:
        results = category_results(output) if output else {}
        last = ChunkChoice(delta=DeltaOut(), finish_reason=finish_reason, content_filter_results=results)  # type: ignore[arg-type]
        events = [self._chunk([last])]
        if self.include_usage:
            events.append(self._chunk([], usage=usage_of(result)))
        return [*events, DONE]

    async def events(self) -> AsyncIterator[str]:
        yield self._chunk(
            [ChunkChoice(delta=DeltaOut(role="assistant", content=""))],
            prompt_filter_results=[
                PromptFilterResult(
                    content_filter_results=category_results(self.input_decision),
                    image_findings=image_findings(self.input_decision),
                )
            ],
            policy_version=self.input_decision.policy_version,
        )
        if self.input_decision.blocked:
            yield self._content(self.input_decision.text)
            for event in self._end("content_filter", None, None):
                yield event
            return
        stream = self.model.stream(request=redacted_request(self.request, self.input_decision))
        arrivals: asyncio.Queue[StreamEvent | BaseException] = asyncio.Queue()
        reader = asyncio.create_task(_read_into(stream, arrivals))
        try:
            async for event in self._screened(arrivals):
                yield event
        except Exception as exc:  # noqa: BLE001 - a failed screen (overload, timeout) ends the stream with an error event
            yield sse_error(exc, self.request.request_id)
        finally:
            reader.cancel()
            stream.cancel()  # the client went away or the screen blocked: free the batch slot

    async def _screened(self, arrivals: asyncio.Queue[StreamEvent | BaseException]) -> AsyncIterator[str]:
        while True:
            batch = [await arrivals.get()]
            while not arrivals.empty():
                batch.append(arrivals.get_nowait())
            failure = next((e for e in batch if isinstance(e, BaseException)), None)
            if failure is not None:
                yield sse_error(failure, self.request.request_id)
                return
            events = [e for e in batch if isinstance(e, StreamEvent)]
            step = await self.screen.feed("".join(e.delta for e in events))
            if step.release:
                yield self._content(step.release)
            final = next((e.result for e in events if e.result is not None), None)
            if step.blocked:
                end = await self.screen.finish()
                for event in self._end("content_filter", end.decision, None):
                    yield event
                return
            if final is None:
                continue
            if isinstance(final, ServiceError):
                yield sse_error(final, self.request.request_id)
                return
            end = await self.screen.finish()
            if end.release:
                yield self._content(end.release)
            for event in self._end("content_filter" if end.blocked else final.finish_reason, end.decision, final):
                yield event
            return


async def _read_into(stream: TokenStream, arrivals: asyncio.Queue[StreamEvent | BaseException]) -> None:
    try:
        async for event in stream:
            arrivals.put_nowait(event)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - handed to the event loop of the stream, which reports it
        arrivals.put_nowait(exc)


def sse_error(exc: BaseException, request_id: str) -> str:
    """An error after the stream started, as an ``error`` event, then ``[DONE]``."""
    known = as_service_error(exc)
    if known is not None:
        detail = ErrorDetail(
            message=known.message, type=known.error_type, param=known.param, code=known.code, request_id=request_id
        )
    else:
        logger.error("stream for request %s failed", request_id, exc_info=exc)
        detail = ErrorDetail(
            message="Internal server error.", type="server_error", code="internal_error", request_id=request_id
        )
    return f"data: {ErrorResponse(error=detail).model_dump_json()}\n\n{DONE}"
