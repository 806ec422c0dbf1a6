"""Turning a request into model inputs: chat template, image processing, tokens and positions.

This is the CPU-heavy part of admission, so it runs wherever the caller likes (the replica's
executor, the engine's admission threads), never on the decode thread. Positions are computed
here too, on the CPU, with the model's own rule (``get_rope_index``: text positions, and M-RoPE
t/h/w positions from the image grids), so the decode thread never syncs to build them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
from transformers import Qwen3VLForConditionalGeneration

from pipelines.core.errors import InvalidRequestError, ServiceError
from pipelines.core.types import GenerationRequest, Message, TextPart

logger = logging.getLogger(__name__)


@dataclass
class EncodedPrompt:
    """One request after the processor: token ids, image tensors and positions, all on the CPU."""

    input_ids: torch.Tensor  # (seq,)
    mm_token_type_ids: torch.Tensor | None  # (seq,)
    pixel_values: torch.Tensor | None  # (patches, dim)
    image_grid_thw: torch.Tensor | None  # (images, 3)
    positions: torch.Tensor | None = None  # (4, seq): text, then M-RoPE t/h/w

    @property
    def length(self) -> int:
        return int(self.input_ids.shape[0])


def chat_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Our messages in the processor's chat-template shape (an image part becomes a placeholder)."""
    chat = []
    for m in messages:
        content = [{"type": "text", "text": p.text} if isinstance(p, TextPart) else {"type": "image"} for p in m.parts]
        chat.append({"role": m.role, "content": content})
    return chat


class PromptEncoder:
    """Chat template + processor + positions. Thread-safe: it keeps no per-request state."""

    def __init__(self, processor: Any, model: Qwen3VLForConditionalGeneration) -> None:
        self.processor = processor
        self._rope = model.model  # owns `get_rope_index`, a pure function of the ids and grids

    def encode(self, request: GenerationRequest) -> EncodedPrompt:
        prompt = self.processor.apply_chat_template(
            chat_messages(request.messages), tokenize=False, add_generation_prompt=True
        )
        images = request.images or None
        enc = self.processor(text=[prompt], images=images, return_tensors="pt")
        mm = enc.get("mm_token_type_ids")
        encoded = EncodedPrompt(
            input_ids=enc["input_ids"][0],
            mm_token_type_ids=mm[0] if mm is not None else None,
            pixel_values=enc.get("pixel_values"),
            image_grid_thw=enc.get("image_grid_thw"),
        )
        encoded.positions = self.positions(encoded)
        return encoded

    def encode_or_error(self, request: GenerationRequest) -> EncodedPrompt | ServiceError:
        """``encode``, with a request the processor rejects turned into a 400 value (it fails alone)."""
        try:
            return self.encode(request)
        except ServiceError as exc:
            return exc
        except Exception:
            logger.exception("encoding failed for request %s", request.request_id)
            return InvalidRequestError("The input could not be processed by the model.", code="bad_input")

    def positions(self, prompt: EncodedPrompt) -> torch.Tensor:
        """(4, seq) positions exactly as ``generate`` computes them for an unpadded prompt."""
        ids = prompt.input_ids[None]
        types = prompt.mm_token_type_ids[None] if prompt.mm_token_type_ids is not None else torch.zeros_like(ids)
        with torch.inference_mode():
            vision, _ = self._rope.get_rope_index(ids, types, image_grid_thw=prompt.image_grid_thw)
        text = torch.arange(prompt.length, dtype=vision.dtype)[None]
        return torch.cat([text, vision[:, 0]], dim=0)


def collate(
    prompts: list[EncodedPrompt], pad_token_id: int, device: torch.device, dtype: torch.dtype
) -> dict[str, torch.Tensor]:
    """Left-pad a batch for ``generate``; image patches of all requests are concatenated in request order."""
    width = max(p.length for p in prompts)
    n = len(prompts)
    input_ids = torch.full((n, width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((n, width), dtype=torch.long)
    mm_types = torch.zeros((n, width), dtype=torch.long)
    for row, p in enumerate(prompts):
        input_ids[row, width - p.length :] = p.input_ids
        attention_mask[row, width - p.length :] = 1
        if p.mm_token_type_ids is not None:
            mm_types[row, width - p.length :] = p.mm_token_type_ids
    batch = {"input_ids": input_ids, "attention_mask": attention_mask, "mm_token_type_ids": mm_types}
    with_images = [p for p in prompts if p.pixel_values is not None]
    if with_images:
        batch["pixel_values"] = torch.cat([p.pixel_values for p in with_images]).to(dtype)  # type: ignore[misc]
        batch["image_grid_thw"] = torch.cat([p.image_grid_thw for p in with_images])  # type: ignore[misc]
    return {k: v.to(device) for k, v in batch.items()}
