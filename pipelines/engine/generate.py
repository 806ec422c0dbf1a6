"""One ``model.generate`` call for a fixed batch: the ``transformers`` reference path.

The service and the offline job decode with the continuous engine; this path stays as the
reference it is tested against (greedy tokens must be equal) and as the ``generate`` baseline of
the benchmarks. Requests are encoded one by one (a request the processor rejects fails alone),
left-padded into one batch, and every request keeps its own sampling parameters (the same
sampler as the continuous engine), ``max_tokens`` and stop strings.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

from pipelines.core.errors import ServiceError
from pipelines.core.types import GenerationRequest, GenerationResult
from pipelines.engine.encoding import EncodedPrompt, PromptEncoder, collate
from pipelines.engine.loader import SpecialTokens
from pipelines.engine.results import ResultBuilder, engine_failure
from pipelines.engine.sampling import PerRequestSampler, PerRequestStop

logger = logging.getLogger(__name__)


class BatchGenerator:
    """``generate_batch`` over one loaded model."""

    def __init__(self, model: Any, encoder: PromptEncoder, results: ResultBuilder, special: SpecialTokens) -> None:
        self.model = model
        self.encoder = encoder
        self.results = results
        self.special = special
        self.device = next(model.parameters()).device

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult | ServiceError]:
        """Generate for every request; failures come back as values, one per request."""
        results: list[GenerationResult | ServiceError | None] = [None] * len(requests)
        encoded: list[tuple[int, EncodedPrompt]] = []
        for i, request in enumerate(requests):
            prompt = self.encoder.encode_or_error(request)
            if isinstance(prompt, ServiceError):
                results[i] = prompt
            else:
                encoded.append((i, prompt))
        if encoded:
            batch_requests = [requests[i] for i, _ in encoded]
            try:
                outputs: list[GenerationResult | ServiceError] = list(
                    self._generate([p for _, p in encoded], batch_requests)
                )
            except Exception as exc:  # noqa: BLE001 - a failed forward fails this batch only
                outputs = [engine_failure(exc)] * len(encoded)
            for (i, _), out in zip(encoded, outputs, strict=True):
                results[i] = out
        return results  # type: ignore[return-value]

    @torch.inference_mode()
    def _generate(self, prompts: list[EncodedPrompt], requests: list[GenerationRequest]) -> list[GenerationResult]:
        batch = collate(prompts, self.special.pad, self.device, self.model.dtype)
        params = [r.params for r in requests]
        prompt_length = batch["input_ids"].shape[1]
        gen_config = GenerationConfig(
            max_new_tokens=max(p.max_tokens for p in params),
            do_sample=False,
            eos_token_id=list(self.special.eos) or None,
            pad_token_id=self.special.pad,
        )
        output = self.model.generate(
            **batch,
            generation_config=gen_config,
            logits_processor=LogitsProcessorList([PerRequestSampler(params, self.device)]),
            stopping_criteria=StoppingCriteriaList([PerRequestStop(params, prompt_length, self.results.decode)]),
        )
        new_tokens = output[:, prompt_length:].tolist()
        return [
            self.results.finish(req, prompt.length, tokens, len(requests))
            for req, prompt, tokens in zip(requests, prompts, new_tokens, strict=True)
        ]
