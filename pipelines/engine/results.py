"""What callers get back: generated tokens become a ``GenerationResult``, exceptions a ``ServiceError``.

Both engines (``generate_batch`` and the continuous engine) finish a request here, so the same
tokens always give the same text, finish reason and token counts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch

from pipelines.core.errors import EngineError, OverloadedError, ServiceError
from pipelines.core.types import GenerationRequest, GenerationResult

logger = logging.getLogger(__name__)


class ResultBuilder:
    """Decodes token ids and applies the end-of-sequence, ``max_tokens`` and stop-string rules."""

    def __init__(self, tokenizer: Any, eos_token_ids: Sequence[int]) -> None:
        self.tokenizer = tokenizer
        self.eos_token_ids = frozenset(eos_token_ids)

    def decode(self, token_ids: list[int]) -> str:
        return self.tokenizer.decode(token_ids, skip_special_tokens=True)

    def finish(
        self, request: GenerationRequest, prompt_tokens: int, tokens: list[int], batch_size: int
    ) -> GenerationResult:
        p = request.params
        tokens = tokens[: p.max_tokens]
        finish = "length"
        for idx, tok in enumerate(tokens):
            if tok in self.eos_token_ids:
                tokens, finish = tokens[:idx], "stop"
                break
        text = self.decode(tokens)
        cut = min((text.find(s) for s in p.stop if s in text), default=-1)
        if cut >= 0:
            text, finish = text[:cut], "stop"
        return GenerationResult(
            request_id=request.request_id,
            text=text,
            finish_reason=finish,
            prompt_tokens=prompt_tokens,
            completion_tokens=len(tokens),
            batch_size=batch_size,
        )


def engine_failure(exc: BaseException) -> ServiceError:
    """The client-safe error for a failed forward: out of memory is retryable (503), the rest is a 500."""
    if isinstance(exc, torch.OutOfMemoryError):
        logger.error("out of memory during generation; freeing the CUDA cache")
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return OverloadedError("The model ran out of memory for this batch; retry later.", code="out_of_memory")
    logger.error("generation failed", exc_info=exc)
    return EngineError("The model failed to generate a response.")
