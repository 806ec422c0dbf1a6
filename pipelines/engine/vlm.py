"""A loaded Qwen3-VL model with everything generation needs: processor, encoder, result rules.

``VLMEngine`` is what both engines are built on: the continuous engine (``pipelines.engine.
continuous``, what the service and the offline job run) and ``generate_batch``, one
``model.generate`` call per batch (the ``transformers`` reference the continuous engine is tested
against). Plain Python: no Ray, no Serve.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

import torch

from pipelines.core.errors import ServiceError
from pipelines.core.types import GenerationRequest, GenerationResult, ImagePart, Message, SamplingParams, TextPart
from pipelines.engine.config import (  # re-exported: the engine's public config names
    Attention,
    DType,
    EngineConfig,
    Quantization,
    SchedulerConfig,
    quantization_config,
    resolve_attention,
    resolve_device,
    resolve_dtype,
)
from pipelines.engine.encoding import EncodedPrompt, PromptEncoder, collate
from pipelines.engine.generate import BatchGenerator
from pipelines.engine.loader import SpecialTokens, load_model, special_tokens
from pipelines.engine.results import ResultBuilder

__all__ = [
    "Attention",
    "DType",
    "EncodedPrompt",
    "EngineConfig",
    "Quantization",
    "SchedulerConfig",
    "VLMEngine",
    "load_model",
    "quantization_config",
    "resolve_attention",
    "resolve_device",
    "resolve_dtype",
    "warmup_requests",
]

logger = logging.getLogger(__name__)

_WARMUP_IMAGE_SIDE = 64
_WARMUP_GREY = (127, 127, 127)


def warmup_requests() -> list[GenerationRequest]:
    """One text and one image request: together they touch every lazily initialised path."""
    from PIL import Image  # local: only warm-up needs to create an image

    image = Image.new("RGB", (_WARMUP_IMAGE_SIDE, _WARMUP_IMAGE_SIDE), _WARMUP_GREY)
    params = SamplingParams(max_tokens=2)
    return [
        GenerationRequest(f"warmup-text-{uuid.uuid4().hex}", [Message("user", [TextPart("hello")])], params),
        GenerationRequest(
            f"warmup-image-{uuid.uuid4().hex}",
            [Message("user", [ImagePart(image, "image/png", 0), TextPart("describe")])],
            params,
        ),
    ]


class VLMEngine:
    """A loaded model, its processor and the rules that turn tokens into results."""

    def __init__(self, config: EngineConfig) -> None:
        if config.torch_threads:
            torch.set_num_threads(config.torch_threads)
        model, processor = load_model(config)
        self._setup(config, model, processor, None)

    @classmethod
    def from_model(
        cls, config: EngineConfig, model: Any, processor: Any, special: SpecialTokens | None = None
    ) -> VLMEngine:
        """Wrap a model built in memory (benchmarks build random-weight models straight on the GPU,
        with no checkpoint on disk). ``special`` overrides the end-of-sequence ids, e.g. none at all
        for runs that must produce exactly ``max_tokens``."""
        engine = cls.__new__(cls)
        engine._setup(config, model.eval(), processor, special)
        return engine

    def _setup(self, config: EngineConfig, model: Any, processor: Any, special: SpecialTokens | None) -> None:
        self.config = config
        self.model, self.processor = model, processor
        self.device = next(self.model.parameters()).device
        self.tokenizer = self.processor.tokenizer
        self.special = special or special_tokens(self.model, self.tokenizer)
        self.eos_token_ids = list(self.special.eos)
        self.pad_token_id = self.special.pad
        self.encoder = PromptEncoder(self.processor, self.model)
        self.results = ResultBuilder(self.tokenizer, self.special.eos)
        self._batch = BatchGenerator(self.model, self.encoder, self.results, self.special)
        self.ready = False
        if config.warmup:
            self.warmup()
        self.ready = True

    def warmup(self) -> None:
        """Exercise the text and image paths once so the first user request pays no lazy init."""
        started = time.perf_counter()
        for result in self.generate_batch(warmup_requests()):
            if isinstance(result, ServiceError):
                raise RuntimeError(f"warm-up generation failed: {result.message}")
        logger.info("warm-up done in %.2fs", time.perf_counter() - started)

    def encode(self, request: GenerationRequest) -> EncodedPrompt:
        return self.encoder.encode(request)

    def collate(self, prompts: list[EncodedPrompt]) -> dict[str, torch.Tensor]:
        return collate(prompts, self.pad_token_id, self.device, self.model.dtype)

    def decode(self, token_ids: list[int]) -> str:
        return self.results.decode(token_ids)

    def finish(
        self, request: GenerationRequest, prompt_tokens: int, tokens: list[int], batch_size: int
    ) -> GenerationResult:
        return self.results.finish(request, prompt_tokens, tokens, batch_size)

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult | ServiceError]:
        """One ``model.generate`` for the batch; failures come back as values, one per request."""
        return self._batch.generate_batch(requests)
