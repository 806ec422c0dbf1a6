"""Build a tiny, randomly initialised Qwen3Guard-Gen-like checkpoint for offline development and tests.

Like ``devtools.tiny_model`` for the VLM: the real Qwen3 causal-LM architecture at toy widths, the
locally trained byte-level BPE tokenizer with Qwen's special tokens, and a chat template with the
structure of Qwen3Guard-Gen's moderation prompt, all saved with ``save_pretrained`` so that
``pipelines.moderation.text.guard.GuardModel`` loads it exactly like ``Qwen/Qwen3Guard-Gen-0.6B``. Its weights are
random, so its verdicts are garbage (mostly ``unparseable``); it exercises the code path only.

Usage: ``python -m devtools.tiny_guard OUT_DIR [--seed N] [--force]``. Deterministic for a seed.
"""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import Field
from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

from devtools.tiny_checkpoint import TinyDecoderSpec, builder_main, has_spec, save_checkpoint
from devtools.tiny_model import train_tokenizer
from pipelines.moderation.text.guard import QWEN3GUARD_PROMPT_CATEGORIES, QWEN3GUARD_RESPONSE_CATEGORIES

SPEC_FILE = "tiny_guard_spec.json"


def _category_block(categories: tuple[str, ...]) -> str:
    return "".join(f"{name}.\n" for name in categories)


# A shortened Qwen3Guard-Gen moderation prompt: one system-less user turn that wraps the conversation
# (USER:/ASSISTANT: lines) in the task, the category list and the answer format. As in the real
# template, a final assistant turn switches to response moderation (no Jailbreak, plus a Refusal line).
CHAT_TEMPLATE = (
    "{% set response = messages[-1]['role'] == 'assistant' %}"
    '{% set target = "ASSISTANT\'s response" if response else "USER\'s query" %}'
    "<|im_start|>user\n# Task:\n"
    "Evaluate whether THE LAST {{ target }} is safe, unsafe or controversial, "
    "and identify the category of unsafe content found.\n\n"
    "<BEGIN UNSAFE CONTENT CATEGORIES>\n"
    "{% if response %}"
    + _category_block(QWEN3GUARD_RESPONSE_CATEGORIES)
    + "{% else %}"
    + _category_block(QWEN3GUARD_PROMPT_CATEGORIES)
    + "{% endif %}"
    "<END UNSAFE CONTENT CATEGORIES>\n\n"
    "<BEGIN CONVERSATION>\n\n"
    "{% for message in messages %}"
    "{{ 'ASSISTANT' if message['role'] == 'assistant' else 'USER' }}: {{ message['content'] }}\n\n"
    "{% endfor %}"
    "<END CONVERSATION>\n\n"
    "Answer for ONLY THE LAST {{ target }}: first line 'Safety: Safe', 'Safety: Unsafe' or "
    "'Safety: Controversial'; second line 'Categories:' and the categories, or 'Categories: None'"
    "{% if response %}; third line 'Refusal: Yes' or 'Refusal: No'{% endif %}.<|im_end|>\n"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class TinyGuardSpec(TinyDecoderSpec):
    """Sizes of the tiny guard. The architecture is Qwen3's (like Qwen3Guard-Gen); only the widths shrink."""

    max_position_embeddings: int = Field(4096, description="Longest sequence the rotary embedding is set up for.")


def build_config(spec: TinyGuardSpec, tokenizer: PreTrainedTokenizerFast) -> Qwen3Config:
    """Untied embeddings: tied ones at this size and init make greedy decoding repeat one token."""
    return Qwen3Config(
        vocab_size=len(tokenizer),
        **spec.decoder_sizes(),
        max_position_embeddings=spec.max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=False,
    )


def build_tiny_guard(out_dir: str | Path, spec: TinyGuardSpec | None = None) -> Path:
    """Write a loadable tiny guard checkpoint (model, tokenizer with chat template) to ``out_dir``."""
    spec = spec or TinyGuardSpec()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(spec.vocab_size)
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(spec.seed)
    model = Qwen3ForCausalLM(build_config(spec, tokenizer)).eval()
    return save_checkpoint(out, model, tokenizer, tokenizer, spec, SPEC_FILE, "tiny guard checkpoint")


def is_tiny_guard(path: str | Path) -> bool:
    return has_spec(path, SPEC_FILE)


def main(argv: list[str] | None = None) -> None:
    builder_main(argv, __doc__, "tiny guard", TinyGuardSpec, SPEC_FILE, build_tiny_guard)


if __name__ == "__main__":
    main()
