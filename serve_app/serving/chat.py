"""Chat requests -> deployment calls -> responses. No HTTP here (serve_app/api/ingress.py), no handles
(serve_app/deployments/clients.py): the backends are the typed protocols of ``backends.py``.

The order is fixed by the moderation contract: validate and decode (so images can be screened),
screen the input's text and images (a blocked input never reaches the model), generate, then
screen the output before any of its text can be returned.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pydantic

from pipelines.cache import ResponseCache, cache_key
from pipelines.core.errors import NotFoundError
from pipelines.core.types import GenerationRequest
from pipelines.moderation.policy.engine import PolicyDecision
from pipelines.moderation.request_text import redacted_request, request_text
from serve_app.api.protocol import (
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatMessageOut,
    Choice,
    LegacyGenerateRequest,
    LegacyGenerateResponse,
    PromptFilterResult,
)
from serve_app.config import IngressUserConfig
from serve_app.serving.backends import Model, Policy, Validation
from serve_app.serving.completion import ChatOutcome, Completion
from serve_app.serving.decisions import category_results, image_findings, summary
from serve_app.serving.image_sources import chat_sources, legacy_sources
from serve_app.serving.streaming import ChatStream, StreamLimits


@dataclass(eq=False)
class ChatService:
    """Drives the deployment graph for one chat request."""

    validator: Validation
    model: Model
    policy: Policy
    model_name: str
    model_version: str = ""
    cache: ResponseCache | None = None
    deadline_s: float | None = field(default=None, init=False)
    stream_limits: StreamLimits = field(default_factory=lambda: StreamLimits.of(IngressUserConfig()), init=False)

    def configure(self, deadline_s: float, stream_limits: StreamLimits) -> None:
        self.deadline_s = deadline_s
        self.stream_limits = stream_limits

    def check_model(self, requested: str | None) -> None:
        if requested is not None and requested != self.model_name:
            raise NotFoundError(f"The model '{requested}' does not exist.", param="model", code="model_not_found")

    async def _validated_chat(self, body: ChatCompletionRequest, request_id: str) -> GenerationRequest:
        self.check_model(body.model)
        messages = [m.model_dump(exclude_none=True) for m in body.messages]
        request = await self.validator.validate_chat(
            messages=messages, params=body.sampling_params(), request_id=request_id
        )
        return self._with_deadline(request)

    def _with_deadline(self, request: GenerationRequest) -> GenerationRequest:
        if self.deadline_s is not None:
            request.deadline = time.time() + self.deadline_s
        return request

    async def _check_input(
        self, request: GenerationRequest, prompt: str, sources: list[str | None] | None = None
    ) -> PolicyDecision:
        """Screen the input (text and images; the image screens read ``sources``, the images as sent)."""
        images = request.images
        if not images:
            return await self.policy.check_input(text=prompt, request_id=request.request_id)
        return await self.policy.check_input(
            text=prompt, request_id=request.request_id, images=images, image_sources=sources or []
        )

    @staticmethod
    def _sources(body: ChatCompletionRequest) -> list[str | None]:
        return chat_sources([m.model_dump(exclude_none=True) for m in body.messages])

    async def _complete(self, request: GenerationRequest, prompt: str, input_decision: PolicyDecision) -> Completion:
        """Only an unblocked input reaches the model; the answer is screened before it is returned."""
        if input_decision.blocked:
            return Completion(input_decision, None, None)
        result = await self.model.generate(request=redacted_request(request, input_decision))
        output = await self.policy.check_output(text=result.text, request_id=request.request_id, prompt=prompt)
        return Completion(input_decision, output, result)

    async def chat(self, body: ChatCompletionRequest, request_id: str) -> ChatOutcome:
        request = await self._validated_chat(body, request_id)
        prompt = request_text(request)
        input_decision = await self._check_input(request, prompt, self._sources(body))
        key = None
        if self.cache is not None:
            key = cache_key(request, self.model_version, input_decision.policy_digest or input_decision.policy_version)
        if key is not None:
            cached = await asyncio.to_thread(self.cache.get, key)  # type: ignore[union-attr]
            response = await self._from_cache(cached, request_id, prompt) if cached is not None else None
            if response is not None:
                return ChatOutcome(response, 0, "hit")
        completion = await self._complete(request, prompt, input_decision)
        response = self.chat_response(completion, request_id)
        if key is not None:
            await asyncio.to_thread(self.cache.set, key, response.model_dump_json().encode())  # type: ignore[union-attr]
        return ChatOutcome(response, completion.batch_size, "miss" if key is not None else "skip")

    async def _from_cache(self, cached: bytes, request_id: str, prompt: str) -> ChatCompletionResponse | None:
        """A cached answer, screened again as this request's output (and audited under its id), so what
        a cache returns has passed the output policy in force now; None (a miss) when that screen would
        change it or the entry is unreadable."""
        try:
            response = ChatCompletionResponse.model_validate_json(cached)
        except pydantic.ValidationError:
            return None
        content = response.choices[0].message.content or "" if response.choices else ""
        output = await self.policy.check_output(text=content, request_id=request_id, prompt=prompt)
        if output.text != content:
            return None
        response.id, response.created = f"chatcmpl-{request_id}", int(time.time())
        return response

    def chat_response(self, completion: Completion, request_id: str) -> ChatCompletionResponse:
        output = completion.output_decision
        return ChatCompletionResponse(
            id=f"chatcmpl-{request_id}",
            model=self.model_name,
            choices=[
                Choice(
                    message=ChatMessageOut(content=completion.text),
                    finish_reason=completion.finish_reason,
                    content_filter_results=category_results(output) if output else {},
                )
            ],
            usage=completion.usage,
            prompt_filter_results=[
                PromptFilterResult(
                    content_filter_results=category_results(completion.input_decision),
                    image_findings=image_findings(completion.input_decision),
                )
            ],
            policy_version=completion.input_decision.policy_version,
        )

    async def legacy(self, body: LegacyGenerateRequest, request_id: str) -> tuple[LegacyGenerateResponse, int]:
        request = self._with_deadline(
            await self.validator.validate_legacy(
                image=body.image,
                prompt=body.prompt,
                max_tokens=body.max_tokens,
                temperature=body.temperature,
                request_id=request_id,
            )
        )
        prompt = request_text(request)
        input_decision = await self._check_input(request, prompt, legacy_sources(body.image))
        completion = await self._complete(request, prompt, input_decision)
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
        return response, completion.batch_size

    async def chat_stream(self, body: ChatCompletionRequest, request_id: str) -> AsyncIterator[str]:
        """Validate and screen the input now (errors become ordinary error responses); the returned
        iterator then streams Server-Sent Events."""
        request = await self._validated_chat(body, request_id)
        request.stream = True
        prompt = request_text(request)
        input_decision = await self._check_input(request, prompt, self._sources(body))
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        stream = ChatStream(
            model=self.model,
            policy=self.policy,
            model_name=self.model_name,
            limits=self.stream_limits,
            request=request,
            prompt=prompt,
            input_decision=input_decision,
            include_usage=include_usage,
        )
        return stream.events()


def new_request_id() -> str:
    return uuid.uuid4().hex
