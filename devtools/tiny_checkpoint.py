"""What the tiny checkpoint builders (``tiny_model``, ``tiny_guard``) share: greedy decoding that stops
at either end token, the spec file that marks a finished checkpoint, and the command line."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

DECODER_SIZES = frozenset(
    {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim"}
)


class TinyDecoderSpec(BaseModel):
    """The sizes both tiny checkpoints give their (Qwen3) text decoder, and the seed of their weights."""

    model_config = ConfigDict(extra="forbid")

    vocab_size: int = Field(1024, description="BPE vocabulary size including special tokens.")
    hidden_size: int = Field(64, description="Decoder width.")
    num_hidden_layers: int = Field(2, description="Decoder layers.")
    num_attention_heads: int = Field(4, description="Attention heads.")
    num_key_value_heads: int = Field(2, description="KV heads (grouped-query attention).")
    head_dim: int = Field(16, description="Per-head width.")
    intermediate_size: int = Field(128, description="MLP width.")
    seed: int = Field(0, description="Seed for weight initialisation.")

    def decoder_sizes(self) -> dict[str, int]:
        """The decoder's widths, under the names transformers' configs give them (the vocabulary size is
        the trained tokenizer's length, not ``vocab_size``)."""
        return self.model_dump(include=DECODER_SIZES)


SpecT = TypeVar("SpecT", bound=TinyDecoderSpec)

logger = logging.getLogger(__name__)


def save_greedy(model: Any, tokenizer: Any, out: Path) -> None:
    """Save ``model`` set to decode greedily and stop at EOS or PAD (the tiny tokenizers' end tokens)."""
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, tokenizer.pad_token_id]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.do_sample = False
    model.save_pretrained(out)


def save_checkpoint(
    out: Path, model: Any, tokenizer: Any, preprocessor: Any, spec: BaseModel, spec_file: str, what: str
) -> Path:
    """Save ``model`` (see ``save_greedy``), then ``preprocessor`` (the tokenizer, or a processor around it),
    then the spec, last; returns ``out``."""
    save_greedy(model, tokenizer, out)
    preprocessor.save_pretrained(out)
    write_spec(out, spec_file, spec)
    logger.info("%s written to %s", what, out)
    return out


def write_spec(out: Path, name: str, spec: BaseModel) -> None:
    """The spec a checkpoint was built from, written last: its presence marks a complete checkpoint."""
    (out / name).write_text(json.dumps(spec.model_dump(), indent=2))


def has_spec(path: str | Path, name: str) -> bool:
    """Whether ``path`` holds a complete checkpoint (its spec file is written last)."""
    return (Path(path) / name).is_file()


def builder_main(
    argv: list[str] | None,
    doc: str,
    what: str,
    spec_type: type[SpecT],
    spec_file: str,
    build: Callable[[Path, SpecT], object],
) -> None:
    """``python -m devtools.<builder> OUT_DIR [--seed N] [--force]``: build unless already there."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=spec_type().seed)
    parser.add_argument("--force", action="store_true", help="rebuild even if a checkpoint exists")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if has_spec(args.out_dir, spec_file) and not args.force:
        logger.info("%s already present at %s", what, args.out_dir)
        return
    build(args.out_dir, spec_type(seed=args.seed))
