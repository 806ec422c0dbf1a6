"""The GPU deployment: dynamically batched Qwen3-VL generation."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from ray import serve
from ray.serve.metrics import Histogram

from pipelines.engine import EngineConfig, VLMEngine
from pipelines.errors import ModelNotReadyError, ServiceError
from pipelines.types import GenerationRequest, GenerationResult
from serve_app.config import BatchingConfig

logger = logging.getLogger("ray.serve")

_BATCH_SIZE_BOUNDARIES = [1, 2, 4, 8, 16, 32, 64, 128]


@serve.deployment(name="VLM")
class VLMDeployment:
    """Loads the model in the constructor (Serve routes no traffic before that), then batches.

    ``generate`` never raises for a single bad request: the engine returns per-request errors
    as values, because an exception inside a ``@serve.batch`` function fails every caller.
    """

    def __init__(self, engine: dict[str, Any]) -> None:
        self.config = EngineConfig.model_validate(engine)
        self.engine = VLMEngine(self.config)
        self.batch_sizes: Counter[int] = Counter()
        self.batch_size_metric = Histogram(
            "qvs_batch_size", description="Requests per generate call.", boundaries=_BATCH_SIZE_BOUNDARIES
        )

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        batching = BatchingConfig.model_validate(user_config)
        self._generate_batch.set_max_batch_size(batching.max_batch_size)
        self._generate_batch.set_batch_wait_timeout_s(batching.batch_wait_timeout_s)
        logger.info("batching set to %s", batching.model_dump())

    async def generate(self, request: GenerationRequest) -> GenerationResult | ServiceError:
        if not self.engine.ready:
            return ModelNotReadyError("The model is still loading.")
        return await self._generate_batch(request)

    @serve.batch(
        max_batch_size=BatchingConfig().max_batch_size, batch_wait_timeout_s=BatchingConfig().batch_wait_timeout_s
    )
    async def _generate_batch(self, requests: list[GenerationRequest]) -> list[GenerationResult | ServiceError]:
        self.batch_sizes[len(requests)] += 1
        self.batch_size_metric.observe(len(requests))
        # Generation is blocking compute: run it off the event loop so health checks and the
        # batch queue keep being served while the model works.
        return await asyncio.to_thread(self.engine.generate_batch, requests)

    def model_info(self) -> dict[str, Any]:
        return {
            "name": self.config.name,
            "model": self.config.model,
            "revision": self.config.revision,
            "quantization": self.config.quantization,
            "ready": self.engine.ready,
        }

    def batch_size_histogram(self) -> dict[int, int]:
        return dict(self.batch_sizes)

    def check_health(self) -> None:
        if not self.engine.ready:
            raise RuntimeError("model not ready")
