"""Random-weight Qwen3-VL engines built in memory, for the engine benchmarks.

No weights can be downloaded where this project is built, and the per-token compute of a model
does not depend on its weights' values, so the benchmarks build the real architecture with
random weights straight where it runs (on the GPU in bfloat16 for the 8B; no 17.5 GB checkpoint
is written), with the tokenizer and processor ``devtools.tiny_model`` trains locally.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

from devtools.tiny_model import TinyModelSpec, build_config, build_processor, train_tokenizer
from pipelines.engine.config import EngineConfig, SchedulerConfig, flash_attn_available
from pipelines.engine.encoding import EncodedPrompt
from pipelines.engine.loader import SpecialTokens
from pipelines.engine.vlm import VLMEngine

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "configs" / "qwen3-vl-8b-architecture.json"

# The CPU benchmark's "medium" model: the real architecture at 4 layers x 256 wide.
MEDIUM = TinyModelSpec(
    hidden_size=256,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=64,
    mrope_section=[8, 12, 12],
    intermediate_size=768,
)
# The 8B run's processor budget: a 448x448 product photo stays 448x448 (196 image tokens).
GPU_MAX_PIXELS = 1024 * 1024
_DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32}


def random_engine(
    *,
    spec: TinyModelSpec,
    architecture: Path | None,
    device: str,
    dtype: str,
    scheduler: SchedulerConfig,
    seed: int = 0,
) -> VLMEngine:
    """A :class:`VLMEngine` on random weights that never emits an end-of-sequence token, so every
    request produces exactly its ``max_tokens`` (what a benchmark needs to compare like with like)."""
    tokenizer = train_tokenizer(spec.vocab_size)
    config = build_config(spec, tokenizer)
    if architecture is not None:
        published = json.loads(architecture.read_text())
        published.pop("_comment", None)
        special = {k: getattr(config, k) for k in ("image_token_id", "video_token_id")}
        special |= {k: getattr(config, k) for k in ("vision_start_token_id", "vision_end_token_id")}
        config = Qwen3VLConfig(**published, **special)
        config.text_config.pad_token_id = tokenizer.pad_token_id
    torch.manual_seed(seed)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(_DTYPES[dtype])
    try:
        with torch.device(device):  # initialise where it runs: no host copy of an 8B model
            model = Qwen3VLForConditionalGeneration(config).eval()
    finally:
        torch.set_default_dtype(previous)
    attention = "flash_attention_2" if device == "cuda" and flash_attn_available() else "sdpa"
    model.set_attn_implementation(attention)
    engine_config = EngineConfig(
        model=f"random:{architecture.name if architecture else 'spec'}",
        dtype=dtype,  # type: ignore[arg-type]
        device=device,  # type: ignore[arg-type]
        attn_implementation=attention,  # type: ignore[arg-type]
        warmup=False,
        scheduler=scheduler,
    )
    processor = build_processor(spec, tokenizer)
    return VLMEngine.from_model(engine_config, model, processor, SpecialTokens(eos=(), pad=tokenizer.pad_token_id))


def random_prompt(engine: VLMEngine, tokens: int, seed: int) -> EncodedPrompt:
    """A text prompt of exactly ``tokens`` random ordinary tokens, with its positions."""
    generator = torch.Generator().manual_seed(seed)
    ordinary = max(engine.tokenizer.all_special_ids) + 1  # the tiny tokenizer puts its special tokens first
    ids = torch.randint(ordinary, len(engine.tokenizer), (tokens,), generator=generator)
    prompt = EncodedPrompt(input_ids=ids, mm_token_type_ids=None, pixel_values=None, image_grid_thw=None)
    prompt.positions = engine.encoder.positions(prompt)
    return prompt
