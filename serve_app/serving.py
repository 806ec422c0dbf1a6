"""Request -> deployment calls -> response, for each endpoint. No HTTP here (see ingress.py).

The order is fixed by the moderation contract: validate and decode (so images can be screened),
screen the input's text and images (a blocked input never reaches the model), generate, then
screen the output before any of its text can be returned.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict, is_dataclass

from ray.serve.handle import DeploymentHandle

from pipelines.errors import NotFoundError, ServiceError
from pipelines.moderation import openai_moderation
from pipelines.policy import PolicyDecision
from pipelines.types import GenerationRequest, GenerationResult, ModerationInput
from serve_app.protocol import (
    CategoryResultOut,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatMessageOut,
    Choice,
    LegacyGenerateRequest,
    LegacyGenerateResponse,
    ModerationRequest,
    ModerationResponse,
    ModerationResult,
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


class ChatService:
    """Drives the deployment graph for one request."""

    def __init__(
        self,
        validator: DeploymentHandle,
        vlm: DeploymentHandle,
        policy: DeploymentHandle,
        model_name: str,
        moderation_model: str,
    ) -> None:
        self.validator = validator
        self.vlm = vlm
        self.policy = policy
        self.model_name = model_name
        self.moderation_model = moderation_model

    def check_model(self, requested: str | None) -> None:
        if requested is not None and requested != self.model_name:
            raise NotFoundError(f"The model '{requested}' does not exist.", param="model", code="model_not_found")

    async def chat(self, body: ChatCompletionRequest, request_id: str) -> tuple[ChatCompletionResponse, int]:
        self.check_model(body.model)
        messages = [m.model_dump(exclude_none=True) for m in body.messages]
        request = await self.validator.validate_chat.remote(messages, body.sampling_params(), request_id)
        completion = await self._complete(request)
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
        return response, completion.result.batch_size if completion.result else 0

    async def legacy(self, body: LegacyGenerateRequest, request_id: str) -> tuple[LegacyGenerateResponse, int]:
        request = await self.validator.validate_legacy.remote(body.image, body.prompt, body.max_tokens, request_id)
        completion = await self._complete(request)
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

    async def _complete(self, request: GenerationRequest) -> Completion:
        """Screen the input (text and images); only an unblocked input reaches the model."""
        prompt = request_text(request)
        input_decision = await self.policy.check.remote(prompt, "input", request.request_id, None, request.images)
        if input_decision.blocked:
            return Completion(input_decision, None, None)
        result = await self.vlm.generate.remote(request)
        if isinstance(result, ServiceError):
            raise result
        output_decision = await self.policy.check.remote(result.text, "output", request.request_id, prompt)
        return Completion(input_decision, output_decision, result)

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
