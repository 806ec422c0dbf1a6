"""Request -> deployment calls -> response, for each endpoint. No HTTP here (see ingress.py).

The order is fixed by the moderation contract: validate and decode (so images can be screened),
screen the input's text and images (a blocked input never reaches the model), generate, then
screen the output before any of its text can be returned.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, is_dataclass

from ray.serve.handle import DeploymentHandle

from pipelines.cache import ResponseCache, cache_key
from pipelines.core.errors import NotFoundError, ServiceError
from pipelines.core.types import GenerationRequest, GenerationResult, ModerationInput
from pipelines.engine.continuous import StreamEvent
from pipelines.moderation.moderator import openai_moderation
from pipelines.moderation.policy.engine import PolicyDecision
from pipelines.moderation.stream_screen import StreamScreen
from serve_app.api.protocol import (
    CategoryResultOut,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatMessageOut,
    Choice,
    ChunkChoice,
    DeltaOut,
    ErrorDetail,
    ErrorResponse,
    LegacyGenerateRequest,
    LegacyGenerateResponse,
    ModerationRequest,
    ModerationResponse,
    ModerationResult,
    ModerationSummary,
    PromptFilterResult,
    Usage,
)

logger = logging.getLogger("ray.serve")


def category_results(decision: PolicyDecision) -> dict[str, CategoryResultOut]:
    out = {}
    for name, result in decision.categories.items():
        data = asdict(result) if is_dataclass(result) else result.model_dump()
        out[name] = CategoryResultOut(
            filtered=data["filtered"],
            detected=data["detected"],
            score=data["score"],
            action=data["action"],
            spans=[list(s) for s in data.get("spans", [])],
        )
    return out


def summary(decision: PolicyDecision) -> ModerationSummary:
    return ModerationSummary(
        policy_version=decision.policy_version,
        action=decision.action,
        blocked=decision.blocked,
        categories=category_results(decision),
    )


def request_text(request: GenerationRequest) -> str:
    """Everything the caller wrote (system, user and earlier assistant turns), for the input policy."""
    return "\n".join(m.text for m in request.messages if m.text)


class Completion:
    """What one request produced: the generation (absent if the input was blocked) and decisions."""

    def __init__(
        self, input_decision: PolicyDecision, output_decision: PolicyDecision | None, result: GenerationResult | None
    ) -> None:
        self.input_decision = input_decision
        self.output_decision = output_decision
        self.result = result

    @property
    def blocked(self) -> bool:
        return self.input_decision.blocked or bool(self.output_decision and self.output_decision.blocked)

    @property
    def text(self) -> str:
        if self.input_decision.blocked:
            return self.input_decision.text
        assert self.output_decision is not None
        return self.output_decision.text

    @property
    def finish_reason(self) -> str:
        if self.blocked:
            return "content_filter"
        assert self.result is not None
        return self.result.finish_reason

    @property
    def usage(self) -> Usage:
        prompt = self.result.prompt_tokens if self.result else 0
        completion = self.result.completion_tokens if self.result else 0
        return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


@dataclass
class ChatOutcome:
    response: ChatCompletionResponse
    batch_size: int
    cache: str  # hit, miss (computed and stored) or skip (not cacheable / no cache)


class ChatService:
    """Drives the deployment graph for one request."""

    def __init__(
        self,
        validator: DeploymentHandle,
        vlm: DeploymentHandle,
        policy: DeploymentHandle,
        model_name: str,
        moderation_model: str,
        model_version: str = "",
        cache: ResponseCache | None = None,
    ) -> None:
        self.validator = validator
        self.vlm = vlm
        self.policy = policy
        self.model_name = model_name
        self.moderation_model = moderation_model
        self.model_version = model_version
        self.cache = cache
        self.deadline_s: float | None = None
        self.hold_back_chars = 0

    def configure(self, deadline_s: float, hold_back_chars: int) -> None:
        self.deadline_s = deadline_s
        self.hold_back_chars = hold_back_chars

    async def _validated_chat(self, body: ChatCompletionRequest, request_id: str) -> GenerationRequest:
        self.check_model(body.model)
        messages = [m.model_dump(exclude_none=True) for m in body.messages]
        request: GenerationRequest = await self.validator.validate_chat.remote(
            messages, body.sampling_params(), request_id
        )
        return self._with_deadline(request)

    def _with_deadline(self, request: GenerationRequest) -> GenerationRequest:
        if self.deadline_s is not None:
            request.deadline = time.time() + self.deadline_s
        return request

    def check_model(self, requested: str | None) -> None:
        if requested is not None and requested != self.model_name:
            raise NotFoundError(f"The model '{requested}' does not exist.", param="model", code="model_not_found")

    async def chat(self, body: ChatCompletionRequest, request_id: str) -> ChatOutcome:
        request = await self._validated_chat(body, request_id)
        prompt = request_text(request)
        input_decision = await self._check_input(request, prompt)
        key = None
        if self.cache is not None:
            key = cache_key(request, self.model_version, input_decision.policy_version)
        if key is not None:
            cached = await asyncio.to_thread(self.cache.get, key)  # type: ignore[union-attr]
            if cached is not None:
                response = ChatCompletionResponse.model_validate_json(cached)
                response.id, response.created = f"chatcmpl-{request_id}", int(time.time())
                return ChatOutcome(response, 0, "hit")
        completion = await self._complete(request, prompt, input_decision)
        response = ChatCompletionResponse(
            id=f"chatcmpl-{request_id}",
            model=self.model_name,
            choices=[
                Choice(
                    message=ChatMessageOut(content=completion.text),
                    finish_reason=completion.finish_reason,
                    content_filter_results=(
                        category_results(completion.output_decision) if completion.output_decision else {}
                    ),
                )
            ],
            usage=completion.usage,
            prompt_filter_results=[
                PromptFilterResult(content_filter_results=category_results(completion.input_decision))
            ],
            policy_version=completion.input_decision.policy_version,
        )
        if key is not None:
            await asyncio.to_thread(self.cache.set, key, response.model_dump_json().encode())  # type: ignore[union-attr]
        batch_size = completion.result.batch_size if completion.result else 0
        return ChatOutcome(response, batch_size, "miss" if key is not None else "skip")

    async def legacy(self, body: LegacyGenerateRequest, request_id: str) -> tuple[LegacyGenerateResponse, int]:
        request = self._with_deadline(
            await self.validator.validate_legacy.remote(
                body.image, body.prompt, body.max_tokens, request_id, body.temperature
            )
        )
        prompt = request_text(request)
        completion = await self._complete(request, prompt, await self._check_input(request, prompt))
        moderation = {"input": summary(completion.input_decision)}
        if completion.output_decision:
            moderation["output"] = summary(completion.output_decision)
        response = LegacyGenerateResponse(
            text=completion.text,
            finish_reason=completion.finish_reason,
            request_id=request_id,
            model=self.model_name,
            usage=completion.usage,
            moderation=moderation,
        )
        return response, completion.result.batch_size if completion.result else 0

    async def _check_input(self, request: GenerationRequest, prompt: str) -> PolicyDecision:
        """Screen the input (text and images)."""
        return await self.policy.check.remote(prompt, "input", request.request_id, None, request.images)

    async def _complete(self, request: GenerationRequest, prompt: str, input_decision: PolicyDecision) -> Completion:
        """Only an unblocked input reaches the model; the answer is screened before it is returned."""
        if input_decision.blocked:
            return Completion(input_decision, None, None)
        result = await self.vlm.generate.remote(request)
        if isinstance(result, ServiceError):
            raise result
        output_decision = await self.policy.check.remote(result.text, "output", request.request_id, prompt)
        return Completion(input_decision, output_decision, result)

    async def chat_stream(self, body: ChatCompletionRequest, request_id: str) -> AsyncIterator[str]:
        """Validate and screen the input now (errors become ordinary error responses); the returned
        iterator then streams Server-Sent Events."""
        request = await self._validated_chat(body, request_id)
        request.stream = True
        prompt = request_text(request)
        input_decision = await self._check_input(request, prompt)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return ChatStream(self, request, prompt, input_decision, include_usage).events()

    async def moderations(self, body: ModerationRequest, request_id: str) -> ModerationResponse:
        """Each input screened as an input would be before the model (same policy, same audit)."""
        items: list[ModerationInput] = await self.validator.validate_moderation.remote(body.input, request_id)
        decisions = await asyncio.gather(
            *(
                self.policy.check.remote(item.text, "input", request_id, None, [p.image for p in item.images])
                for item in items
            )
        )
        results = [
            moderation_result(decision, has_text=bool(item.text), has_image=bool(item.images))
            for item, decision in zip(items, decisions, strict=True)
        ]
        return ModerationResponse(id=f"modr-{request_id}", model=body.model or self.moderation_model, results=results)


class ChatStream:
    """One streamed completion: the VLM's deltas pass the stream screen before they become events.

    Role chunk first (with the input's filter results), content chunks as the screen releases
    text, a last chunk with ``finish_reason`` and the output's filter results, a usage chunk when
    asked for, then ``[DONE]``. A block ends the stream with ``finish_reason: "content_filter"``
    and stops generation; so does the client going away.
    """

    def __init__(
        self,
        service: ChatService,
        request: GenerationRequest,
        prompt: str,
        input_decision: PolicyDecision,
        include_usage: bool,
    ) -> None:
        self.service = service
        self.request = request
        self.prompt = prompt
        self.input_decision = input_decision
        self.include_usage = include_usage
        self.created = int(time.time())
        self.screen = StreamScreen(self._check, service.hold_back_chars)

    async def _check(self, text: str, final: bool) -> PolicyDecision:
        rid = self.request.request_id
        return await self.service.policy.check.remote(text, "output", rid, self.prompt, (), partial=not final)

    def _chunk(self, choices: list[ChunkChoice], **fields: object) -> str:
        chunk = ChatCompletionChunk(
            id=f"chatcmpl-{self.request.request_id}",
            created=self.created,
            model=self.service.model_name,
            choices=choices,
            **fields,  # type: ignore[arg-type]
        )
        return f"data: {chunk.model_dump_json(exclude_none=True)}\n\n"

    def _content(self, text: str) -> str:
        return self._chunk([ChunkChoice(delta=DeltaOut(content=text))])

    def _end(self, finish_reason: str, output: PolicyDecision | None, result: GenerationResult | None) -> list[str]:
        results = category_results(output) if output else {}
        events = [
            self._chunk(
                [ChunkChoice(delta=DeltaOut(), finish_reason=finish_reason, content_filter_results=results)]  # type: ignore[arg-type]
            )
        ]
        if self.include_usage:
            prompt_tokens = result.prompt_tokens if result else 0
            completion_tokens = result.completion_tokens if result else 0
            usage = Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=prompt_tokens + completion_tokens,
            )
            events.append(self._chunk([], usage=usage))
        return [*events, "data: [DONE]\n\n"]

    async def events(self) -> AsyncIterator[str]:
        yield self._chunk(
            [ChunkChoice(delta=DeltaOut(role="assistant", content=""))],
            prompt_filter_results=[PromptFilterResult(content_filter_results=category_results(self.input_decision))],
            policy_version=self.input_decision.policy_version,
        )
        if self.input_decision.blocked:
            yield self._content(self.input_decision.text)
            for event in self._end("content_filter", None, None):
                yield event
            return
        stream = self.service.vlm.options(stream=True).generate_stream.remote(self.request)
        arrivals: asyncio.Queue[StreamEvent | BaseException] = asyncio.Queue()
        reader = asyncio.create_task(_read_into(stream, arrivals))
        try:
            async for event in self._screened(arrivals):
                yield event
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
                yield _sse_error(failure, self.request.request_id)
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
                yield _sse_error(final, self.request.request_id)
                return
            end = await self.screen.finish()
            if end.release:
                yield self._content(end.release)
            for event in self._end("content_filter" if end.blocked else final.finish_reason, end.decision, final):
                yield event
            return


async def _read_into(stream: AsyncIterator[StreamEvent], arrivals: asyncio.Queue) -> None:
    try:
        async for event in stream:
            arrivals.put_nowait(event)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - handed to the event loop of the stream, which reports it
        arrivals.put_nowait(exc)


def _sse_error(exc: BaseException, request_id: str) -> str:
    """An error after the stream started: OpenAI's clients raise on an `error` event."""
    from serve_app.api.errors import as_service_error

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
    return f"data: {ErrorResponse(error=detail).model_dump_json()}\n\ndata: [DONE]\n\n"


def moderation_result(decision: PolicyDecision, *, has_text: bool, has_image: bool) -> ModerationResult:
    view = openai_moderation(decision, has_text=has_text, has_image=has_image)
    return ModerationResult(
        flagged=decision.action != "allow",
        categories=view.categories,
        category_scores=view.category_scores,
        category_applied_input_types=view.category_applied_input_types,
        action=decision.action,
        policy_version=decision.policy_version,
        category_results=category_results(decision),
    )


def new_request_id() -> str:
    return uuid.uuid4().hex
