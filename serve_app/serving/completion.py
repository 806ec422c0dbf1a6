"""What one request produced: the generation (absent when the input was blocked) and both decisions,
read the way every response (chat, legacy, stream end, offline row) reports it."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.core.types import GenerationResult
from pipelines.moderation.policy.engine import PolicyDecision
from serve_app.api.protocol import ChatCompletionResponse, Usage


@dataclass
class Completion:
    input_decision: PolicyDecision
    output_decision: PolicyDecision | None
    result: GenerationResult | None

    @property
    def blocked(self) -> bool:
        return self.input_decision.blocked or bool(self.output_decision and self.output_decision.blocked)

    @property
    def text(self) -> str:
        """What may be returned: the block message, a redacted answer, or the answer."""
        if self.input_decision.blocked or self.output_decision is None:
            return self.input_decision.text
        return self.output_decision.text

    @property
    def finish_reason(self) -> str:
        if self.blocked or self.result is None:
            return "content_filter"
        return self.result.finish_reason

    @property
    def usage(self) -> Usage:
        return usage_of(self.result)

    @property
    def batch_size(self) -> int:
        return self.result.batch_size if self.result else 0


def usage_of(result: GenerationResult | None) -> Usage:
    prompt = result.prompt_tokens if result else 0
    completion = result.completion_tokens if result else 0
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


@dataclass
class ChatOutcome:
    response: ChatCompletionResponse
    batch_size: int
    cache: str  # hit, miss (computed and stored) or skip (not cacheable / no cache)
