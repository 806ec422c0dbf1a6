"""Prefill, one sequence at a time, straight into its KV-cache slot, in chunks of a token budget.

Why one at a time: a sequence's prompt is written at columns ``[0, prompt)`` of its own slot, with
no padding, so its positions and attention are exactly those of ``generate`` on that prompt alone
(the greedy-equality tests rely on it), and nothing is merged afterwards. Why chunks: the engine
gives prefill at most ``prefill_chunk_tokens`` per step, so a long prompt is spread over several
steps while the running sequences keep decoding. A chunk attends to the slot's earlier chunks
through the cache (``transformers``' causal mask with the chunk's offset).

An image prompt that fits one chunk goes through the model with its pixels, as in ``generate``.
A longer one runs the vision tower once, on its first chunk, and each chunk gets the slice of the
image features (and DeepStack features) that belongs to its image tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from transformers.models.qwen3_vl.modeling_qwen3_vl import BaseModelOutputWithDeepstackFeatures

from pipelines.engine.encoding import EncodedPrompt
from pipelines.engine.kv_cache import SlotKVCache


@dataclass
class _Vision:
    """A chunked image prompt's vision features, and how many image tokens precede each position."""

    pooled: torch.Tensor  # (image tokens, hidden)
    deepstack: list[torch.Tensor]  # per DeepStack layer: (image tokens, hidden)
    before: list[int]  # before[i]: image tokens in input_ids[:i]


@dataclass
class PrefillJob:
    """A sequence being prefilled into ``slot``; ``done`` prompt tokens are in the cache."""

    prompt: EncodedPrompt
    slot: int
    done: int = 0
    vision: _Vision | None = field(default=None, repr=False)

    @property
    def remaining(self) -> int:
        return self.prompt.length - self.done


class Prefiller:
    """Runs prefill chunks of one model into one slot cache."""

    def __init__(self, model: Any, cache: SlotKVCache) -> None:
        self.model = model
        self.cache = cache
        self.device = next(model.parameters()).device
        self.dtype = model.dtype
        self.image_token_id = model.config.image_token_id

    @torch.inference_mode()
    def run(self, job: PrefillJob, budget: int) -> tuple[int, torch.Tensor | None]:
        """Prefill up to ``budget`` more tokens of ``job``. Returns the tokens done and, once the
        prompt is complete, the logits (1, vocab) of its last position."""
        prompt = job.prompt
        if prompt.positions is None:
            raise ValueError("prompt has no positions: encode it with PromptEncoder")
        start, end = job.done, min(prompt.length, job.done + budget)
        inputs: dict[str, Any] = {
            "input_ids": prompt.input_ids[start:end][None].to(self.device, non_blocking=True),
            "position_ids": prompt.positions[:, start:end][:, None].to(self.device, non_blocking=True),
        }
        if prompt.pixel_values is not None:
            inputs |= self._image_inputs(job, start, end)
        self.cache.plan_prefill(job.slot, start, end - start)
        output = self.model(**inputs, cache=self.cache, use_cache=True, logits_to_keep=1)
        job.done = end
        return end - start, (output.logits[:, -1] if end == prompt.length else None)

    def _image_inputs(self, job: PrefillJob, start: int, end: int) -> dict[str, Any]:
        prompt = job.prompt
        assert prompt.pixel_values is not None and prompt.image_grid_thw is not None
        if start == 0 and end == prompt.length:  # the whole prompt: exactly what generate does
            return {
                "pixel_values": prompt.pixel_values.to(self.device, self.dtype),
                "image_grid_thw": prompt.image_grid_thw.to(self.device),
            }
        if job.vision is None:
            job.vision = self._encode_images(prompt)
        first, last = job.vision.before[start], job.vision.before[end]
        if first == last:
            return {}  # no image token in this chunk
        features = BaseModelOutputWithDeepstackFeatures(
            pooler_output=(job.vision.pooled[first:last],),
            deepstack_features=[(level[first:last],) for level in job.vision.deepstack],
        )
        return {"mm_encoder_outputs": {"image": features}}

    def _encode_images(self, prompt: EncodedPrompt) -> _Vision:
        assert prompt.pixel_values is not None and prompt.image_grid_thw is not None
        output = self.model.model.get_image_features(
            prompt.pixel_values.to(self.device, self.dtype), prompt.image_grid_thw.to(self.device), return_dict=True
        )
        is_image = (prompt.input_ids == self.image_token_id).to(torch.long)
        before = [0, *torch.cumsum(is_image, dim=0).tolist()]
        return _Vision(
            pooled=torch.cat(output.pooler_output),
            deepstack=[torch.cat(level) for level in output.deepstack_features],
            before=before,
        )
