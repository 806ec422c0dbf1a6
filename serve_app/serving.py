"""Request -> deployment calls -> response, for each endpoint. No HTTP here (see ingress.py).

The order is fixed by the moderation contract: screen the input first (a blocked input never
reaches the model), validate and decode, generate, then screen the output before any of its
text can be returned.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, is_dataclass
from typing import Any

from ray.serve.handle import DeploymentHandle

from pipelines.errors import NotFoundError, ServiceError
from pipelines.policy import PolicyDecision
from pipelines.types import GenerationRequest, GenerationResult
from serve_app.protocol import (
    CategoryResultOut,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatMessageOut,
    Choice,
    LegacyGenerateRequest,
    LegacyGenerateResponse,
    ModerationSummary,
    PromptFilterResult,
    Usage,
)


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


def _input_text(messages: list[dict[str, Any]]) -> str:
    """Everything the user and system wrote, as one text for the input policy."""
    texts: list[str] = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "\n".join(t for t in texts if isinstance(t, str))


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


class ChatService:
    """Drives the deployment graph for one request."""

    def __init__(
        self, validator: DeploymentHandle, vlm: DeploymentHandle, policy: DeploymentHandle, model_name: str
    ) -> None:
        self.validator = validator
        self.vlm = vlm
        self.policy = policy
        self.model_name = model_name

    def check_model(self, requested: str | None) -> None:
        if requested is not None and requested != self.model_name:
            raise NotFoundError(f"The model '{requested}' does not exist.", param="model", code="model_not_found")

    async def chat(self, body: ChatCompletionRequest, request_id: str) -> tuple[ChatCompletionResponse, int]:
        self.check_model(body.model)
        messages = [m.model_dump(exclude_none=True) for m in body.messages]
        input_decision = await self.policy.check.remote(_input_text(messages), "input")
        completion: Completion
        if input_decision.blocked:
            completion = Completion(input_decision, None, None)
        else:
            request = await self.validator.validate_chat.remote(messages, body.sampling_params(), request_id)
            completion = await self._generate(request, input_decision)
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
            policy_version=input_decision.policy_version,
        )
        return response, completion.result.batch_size if completion.result else 0

    async def legacy(self, body: LegacyGenerateRequest, request_id: str) -> tuple[LegacyGenerateResponse, int]:
        input_decision = await self.policy.check.remote(body.prompt, "input")
        if input_decision.blocked:
            completion = Completion(input_decision, None, None)
        else:
            request = await self.validator.validate_legacy.remote(body.image, body.prompt, body.max_tokens, request_id)
            completion = await self._generate(request, input_decision)
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

    async def _generate(self, request: GenerationRequest, input_decision: PolicyDecision) -> Completion:
        result = await self.vlm.generate.remote(request)
        if isinstance(result, ServiceError):
            raise result
        output_decision = await self.policy.check.remote(result.text, "output")
        return Completion(input_decision, output_decision, result)


def new_request_id() -> str:
    return uuid.uuid4().hex
