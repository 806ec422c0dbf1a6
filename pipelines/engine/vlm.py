"""The Qwen3-VL generation engine: loading any Qwen3-VL checkpoint and batched generation.

One code path serves ``Qwen/Qwen3-VL-8B-Instruct`` on a GPU and the tiny random checkpoint
built by ``devtools.tiny_model`` on a CPU. Requests are encoded one by one (so a request the
processor rejects fails alone), then left-padded into one batch for a single ``generate``
call in which every request keeps its own sampling parameters, ``max_tokens`` and stop strings.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from dataclasses import dataclass
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from transformers import (
    AutoProcessor,
    BitsAndBytesConfig,
    GenerationConfig,
    LogitsProcessorList,
    Qwen3VLForConditionalGeneration,
    StoppingCriteriaList,
)

from pipelines.core.errors import EngineError, InvalidRequestError, OverloadedError, ServiceError
from pipelines.core.types import GenerationRequest, GenerationResult, Message, SamplingParams, TextPart
from pipelines.engine.sampling import PerRequestSampler, PerRequestStop

logger = logging.getLogger(__name__)

DType = Literal["auto", "bfloat16", "float16", "float32"]
Attention = Literal["auto", "sdpa", "flash_attention_2", "eager"]
Quantization = Literal["none", "8bit", "4bit"]

_TORCH_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


class EngineConfig(BaseModel):
    """How to load and run the vision-language model."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(
        "Qwen/Qwen3-VL-8B-Instruct",
        description="Hugging Face model id or local directory of any Qwen3-VL checkpoint.",
    )
    served_model_name: str | None = Field(
        None, description="Name reported by the API (`model` field); defaults to `model`."
    )
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit) to load.")
    dtype: DType = Field(
        "auto", description="Weights dtype; `auto` picks bfloat16 on a GPU that supports it, else float32."
    )
    device: Literal["auto", "cuda", "cpu"] = Field("auto", description="`auto` uses CUDA when available.")
    attn_implementation: Attention = Field(
        "auto", description="`auto` uses FlashAttention 2 when `flash-attn` imports and CUDA is used, else sdpa."
    )
    quantization: Quantization = Field(
        "none", description="bitsandbytes 8-bit or 4-bit (NF4) weights; the vision tower stays unquantised."
    )
    local_files_only: bool = Field(False, description="Never contact the Hub (offline machines).")
    torch_threads: int | None = Field(None, description="CPU threads for torch; None keeps torch's default.")
    warmup: bool = Field(True, description="Run one text and one image generation before reporting ready.")

    @property
    def name(self) -> str:
        return self.served_model_name or self.model

    @property
    def version(self) -> str:
        """``name@revision:quantization``: what the API, response headers and the audit log report."""
        return f"{self.name}@{self.revision or 'default'}:{self.quantization}"


@dataclass
class EncodedPrompt:
    """One request after the processor: token ids plus its image tensors."""

    input_ids: torch.Tensor  # (seq,)
    mm_token_type_ids: torch.Tensor | None  # (seq,)
    pixel_values: torch.Tensor | None  # (patches, dim)
    image_grid_thw: torch.Tensor | None  # (images, 3)


def resolve_device(config: EngineConfig) -> torch.device:
    if config.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(config.device)


def resolve_dtype(config: EngineConfig, device: torch.device) -> torch.dtype:
    if config.dtype != "auto":
        return _TORCH_DTYPES[config.dtype]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def resolve_attention(config: EngineConfig, device: torch.device) -> str:
    if config.attn_implementation != "auto":
        return config.attn_implementation
    if device.type == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def quantization_config(config: EngineConfig, dtype: torch.dtype) -> BitsAndBytesConfig | None:
    """bitsandbytes settings that keep the vision tower and the LM head in full precision."""
    if config.quantization == "none":
        return None
    keep = ["visual", "lm_head"]
    if config.quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=keep)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=dtype,
        bnb_4bit_use_double_quant=True,
        llm_int8_skip_modules=keep,
    )


def load_model(config: EngineConfig) -> tuple[Qwen3VLForConditionalGeneration, Any]:
    """Load model and processor by Hub id or local path, as configured."""
    device = resolve_device(config)
    dtype = resolve_dtype(config, device)
    attention = resolve_attention(config, device)
    quant = quantization_config(config, dtype)
    if quant is not None and device.type != "cuda":
        raise ValueError("bitsandbytes quantization needs a CUDA device")
    common: dict[str, Any] = {"revision": config.revision, "local_files_only": config.local_files_only}
    processor = AutoProcessor.from_pretrained(config.model, **common)
    processor.tokenizer.padding_side = "left"
    model = Qwen3VLForConditionalGeneration.from_pretrained(
        config.model,
        dtype=dtype,
        attn_implementation=attention,
        quantization_config=quant,
        device_map={"": device.index or 0} if device.type == "cuda" else None,
        **common,
    )
    if quant is None and device.type != "cuda":
        model = model.to(device)
    model.eval()
    logger.info(
        "loaded %s (revision=%s) on %s dtype=%s attention=%s quantization=%s",
        config.model,
        config.revision,
        device,
        dtype,
        attention,
        config.quantization,
    )
    return model, processor


class VLMEngine:
    """Batched generation over a loaded Qwen3-VL model. Plain Python: no Ray, no Serve."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        if config.torch_threads:
            torch.set_num_threads(config.torch_threads)
        self.model, self.processor = load_model(config)
        self.device = next(self.model.parameters()).device
        self.tokenizer = self.processor.tokenizer
        self.eos_token_ids = self._eos_token_ids()
        self.pad_token_id = (
            self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_token_ids[0]
        )
        self.ready = False
        if config.warmup:
            self.warmup()
        self.ready = True

    def _eos_token_ids(self) -> list[int]:
        eos = self.model.generation_config.eos_token_id
        ids = eos if isinstance(eos, list) else [eos] if eos is not None else []
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(self.tokenizer.eos_token_id)
        return ids

    def warmup(self) -> None:
        """Exercise the text and image paths once so the first user request pays no lazy init."""
        from PIL import Image  # local: only warm-up needs to create an image

        from pipelines.core.types import ImagePart

        image = Image.new("RGB", (64, 64), (127, 127, 127))
        params = SamplingParams(max_tokens=2)
        requests = [
            GenerationRequest("warmup-text", [Message("user", [TextPart("hello")])], params),
            GenerationRequest(
                "warmup-image", [Message("user", [ImagePart(image, "image/png", 0), TextPart("describe")])], params
            ),
        ]
        started = time.perf_counter()
        for result in self.generate_batch(requests):
            if isinstance(result, ServiceError):
                raise RuntimeError(f"warm-up generation failed: {result.message}")
        logger.info("warm-up done in %.2fs", time.perf_counter() - started)

    # -- encoding -------------------------------------------------------------------------

    def _chat_messages(self, messages: list[Message]) -> list[dict[str, Any]]:
        chat = []
        for m in messages:
            content = [
                {"type": "text", "text": p.text} if isinstance(p, TextPart) else {"type": "image"} for p in m.parts
            ]
            chat.append({"role": m.role, "content": content})
        return chat

    def encode(self, request: GenerationRequest) -> EncodedPrompt:
        prompt = self.processor.apply_chat_template(
            self._chat_messages(request.messages), tokenize=False, add_generation_prompt=True
        )
        images = request.images or None
        enc = self.processor(text=[prompt], images=images, return_tensors="pt")
        mm = enc.get("mm_token_type_ids")
        return EncodedPrompt(
            input_ids=enc["input_ids"][0],
            mm_token_type_ids=mm[0] if mm is not None else None,
            pixel_values=enc.get("pixel_values"),
            image_grid_thw=enc.get("image_grid_thw"),
        )

    def collate(self, prompts: list[EncodedPrompt]) -> dict[str, torch.Tensor]:
        """Left-pad a batch; image patches of all requests are concatenated in request order."""
        width = max(p.input_ids.shape[0] for p in prompts)
        n = len(prompts)
        input_ids = torch.full((n, width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((n, width), dtype=torch.long)
        mm_types = torch.zeros((n, width), dtype=torch.long)
        for row, p in enumerate(prompts):
            length = p.input_ids.shape[0]
            input_ids[row, width - length :] = p.input_ids
            attention_mask[row, width - length :] = 1
            if p.mm_token_type_ids is not None:
                mm_types[row, width - length :] = p.mm_token_type_ids
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "mm_token_type_ids": mm_types}
        with_images = [p for p in prompts if p.pixel_values is not None]
        if with_images:
            batch["pixel_values"] = torch.cat([p.pixel_values for p in with_images]).to(self.model.dtype)
            batch["image_grid_thw"] = torch.cat([p.image_grid_thw for p in with_images])
        return {k: v.to(self.device) for k, v in batch.items()}

    # -- generation -----------------------------------------------------------------------

    def generate_batch(self, requests: list[GenerationRequest]) -> list[GenerationResult | ServiceError]:
        """Generate for every request; failures come back as values, one per request."""
        results: list[GenerationResult | ServiceError | None] = [None] * len(requests)
        encoded: list[tuple[int, EncodedPrompt]] = []
        for i, request in enumerate(requests):
            try:
                encoded.append((i, self.encode(request)))
            except ServiceError as exc:
                results[i] = exc
            except Exception:
                logger.exception("encoding failed for request %s", request.request_id)
                results[i] = InvalidRequestError("The input could not be processed by the model.", code="bad_input")
        if encoded:
            batch_requests = [requests[i] for i, _ in encoded]
            try:
                outputs = self._generate([p for _, p in encoded], batch_requests)
            except Exception as exc:  # noqa: BLE001 - a failed forward fails this batch only
                outputs = [self._engine_failure(exc)] * len(encoded)
            for (i, _), out in zip(encoded, outputs, strict=True):
                results[i] = out
        return results  # type: ignore[return-value]

    def _engine_failure(self, exc: Exception) -> ServiceError:
        if isinstance(exc, torch.OutOfMemoryError):
            logger.error("out of memory during generation; freeing the CUDA cache")
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            return OverloadedError("The model ran out of memory for this batch; retry later.", code="out_of_memory")
        logger.exception("generation failed", exc_info=exc)
        return EngineError("The model failed to generate a response.")

    @torch.inference_mode()
    def _generate(self, prompts: list[EncodedPrompt], requests: list[GenerationRequest]) -> list[GenerationResult]:
        batch = self.collate(prompts)
        params = [r.params for r in requests]
        prompt_length = batch["input_ids"].shape[1]
        gen_config = GenerationConfig(
            max_new_tokens=max(p.max_tokens for p in params),
            do_sample=False,
            eos_token_id=self.eos_token_ids,
            pad_token_id=self.pad_token_id,
        )
        output = self.model.generate(
            **batch,
            generation_config=gen_config,
            logits_processor=LogitsProcessorList([PerRequestSampler(params, self.device)]),
            stopping_criteria=StoppingCriteriaList([PerRequestStop(params, prompt_length, self._decode)]),
        )
        new_tokens = output[:, prompt_length:].tolist()
        return [
            self._finish(req, prompt.input_ids.shape[0], tokens, len(requests))
            for req, prompt, tokens in zip(requests, prompts, new_tokens, strict=True)
        ]

    def _decode(self, token_ids: list[int]) -> str:
        return self.tokenizer.decode(token_ids, skip_special_tokens=True)

    def _finish(
        self, request: GenerationRequest, prompt_tokens: int, tokens: list[int], batch_size: int
    ) -> GenerationResult:
        p = request.params
        tokens = tokens[: p.max_tokens]
        finish = "length"
        for idx, tok in enumerate(tokens):
            if tok in self.eos_token_ids:
                tokens, finish = tokens[:idx], "stop"
                break
        text = self._decode(tokens)
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
