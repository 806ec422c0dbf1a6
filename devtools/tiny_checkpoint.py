"""What the tiny checkpoint builders (``tiny_model``, ``tiny_guard``) share: greedy decoding that stops
at either end token, the spec file that marks a finished checkpoint, and the command line."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

SpecT = TypeVar("SpecT", bound=BaseModel)


def save_greedy(model: Any, tokenizer: Any, out: Path) -> None:
    """Save ``model`` set to decode greedily and stop at EOS or PAD (the tiny tokenizers' end tokens)."""
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, tokenizer.pad_token_id]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.do_sample = False
    model.save_pretrained(out)


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
    logger: logging.Logger,
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
