"""Build a tiny, randomly initialised Qwen3-VL checkpoint for offline development and tests.

No model weights can be downloaded on the development machines, so the project builds its own
checkpoint with the *real* Qwen3-VL architecture (2 text layers, 2 vision layers), a byte-level
BPE tokenizer trained here that carries the Qwen chat special tokens, and a processor saved with
``save_pretrained``. The service then loads it through exactly the same code path as
``Qwen/Qwen3-VL-8B-Instruct`` (``pipelines.engine.vlm.load_model``).

Usage: ``python -m devtools.tiny_model OUT_DIR [--seed N]``. Building is deterministic for a
given seed, so greedy outputs of the checkpoint are reproducible across machines.
"""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import Field
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    PreTrainedTokenizerFast,
    Qwen2VLImageProcessor,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
    Qwen3VLProcessor,
    Qwen3VLVideoProcessor,
)

from devtools.tiny_checkpoint import TinyDecoderSpec, builder_main, has_spec, save_checkpoint

SPEC_FILE = "tiny_model_spec.json"  # written last: marks a complete checkpoint

# The special tokens of the Qwen2/Qwen3 tokenizers, in their original order.
QWEN_SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# ChatML with Qwen-VL image placeholders; the real checkpoints ship their own template.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or 'image' in part %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Local training text for the BPE tokenizer: English and Chinese, the languages the service moderates.
_CORPUS = [
    "is this bag real leather? the stitching and the grain of the surface look genuine.",
    "does this upload break our rules? describe the image and list anything unsafe.",
    "a photo of a red handbag on a white table next to a pair of sunglasses.",
    "the quick brown fox jumps over the lazy dog while the cat watches from the window.",
    "please describe what you see in this picture in one short sentence.",
    "customer service assistant answers questions about products, prices and delivery.",
    "moderation reviewers check uploads for violence, hate, spam and personal data.",
    "这个包是真皮的吗？请描述图片中的内容。",
    "请检查这张图片是否违反社区规定，并说明原因。",
    "一只猫坐在窗台上，看着外面的小鸟。",
    "客服助手回答关于商品、价格和配送的问题。",
    "numbers 0 1 2 3 4 5 6 7 8 9 10 100 2024 and punctuation: , . ! ? ; : ( ) [ ] { } - _ / @ #",
]


class TinyModelSpec(TinyDecoderSpec):
    """Sizes of the tiny checkpoint. The architecture is Qwen3-VL's; only the widths shrink. The decoder
    sizes are the text model's."""

    mrope_section: list[int] = Field([2, 3, 3], description="Interleaved M-RoPE split (t, h, w); sums to head_dim / 2.")
    vision_depth: int = Field(2, description="Vision transformer layers.")
    vision_hidden_size: int = Field(32, description="Vision transformer width.")
    vision_heads: int = Field(2, description="Vision attention heads.")
    vision_intermediate_size: int = Field(64, description="Vision MLP width.")
    min_pixels: int = Field(32 * 32, description="Image processor lower pixel budget.")
    max_pixels: int = Field(128 * 128, description="Image processor upper pixel budget.")


def train_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE (like Qwen's) trained on the local corpus, with Qwen's special tokens."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=QWEN_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=QWEN_SPECIAL_TOKENS[1:],
        model_max_length=32768,
        padding_side="left",
    )


def build_config(spec: TinyModelSpec, tokenizer: PreTrainedTokenizerFast) -> Qwen3VLConfig:
    ids = tokenizer.convert_tokens_to_ids
    return Qwen3VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            **spec.decoder_sizes(),
            "max_position_embeddings": 4096,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 5_000_000.0,
                "mrope_section": spec.mrope_section,
                "mrope_interleaved": True,
            },
            "pad_token_id": tokenizer.pad_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "bos_token_id": None,
        },
        vision_config={
            "depth": spec.vision_depth,
            "hidden_size": spec.vision_hidden_size,
            "intermediate_size": spec.vision_intermediate_size,
            "num_heads": spec.vision_heads,
            "out_hidden_size": spec.hidden_size,
            "patch_size": 16,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "num_position_embeddings": 144,
            "deepstack_visual_indexes": [0],
        },
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
        tie_word_embeddings=False,
    )


def build_processor(spec: TinyModelSpec, tokenizer: PreTrainedTokenizerFast) -> Qwen3VLProcessor:
    size = {"shortest_edge": spec.min_pixels, "longest_edge": spec.max_pixels}
    image_processor = Qwen2VLImageProcessor(
        size=size,
        patch_size=16,
        temporal_patch_size=2,
        merge_size=2,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    video_processor = Qwen3VLVideoProcessor(size=size, patch_size=16, temporal_patch_size=2, merge_size=2)
    return Qwen3VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=CHAT_TEMPLATE,
    )


def build_tiny_checkpoint(out_dir: str | Path, spec: TinyModelSpec | None = None) -> Path:
    """Write a loadable tiny Qwen3-VL checkpoint (model, tokenizer, processor) to ``out_dir``."""
    spec = spec or TinyModelSpec()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(spec.vocab_size)
    config = build_config(spec, tokenizer)
    torch.manual_seed(spec.seed)
    model = Qwen3VLForConditionalGeneration(config).eval()
    processor = build_processor(spec, tokenizer)
    return save_checkpoint(out, model, tokenizer, processor, spec, SPEC_FILE, "tiny Qwen3-VL checkpoint")


def is_tiny_checkpoint(path: str | Path) -> bool:
    return has_spec(path, SPEC_FILE)


def main(argv: list[str] | None = None) -> None:
    builder_main(argv, __doc__, "tiny checkpoint", TinyModelSpec, SPEC_FILE, build_tiny_checkpoint)


if __name__ == "__main__":
    main()
