"""Incremental detokenization agrees with a full decode and never streams part of a stop string."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from pipelines.engine.detokenize import IncrementalText


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_incremental_text_is_always_a_prefix_of_the_full_decode(tokenizer) -> None:
    rng = random.Random(0)
    vocab = len(tokenizer)
    for _ in range(500):  # random ids: byte tokens that split characters, special tokens, invalid UTF-8
        ids = [rng.randrange(vocab) for _ in range(rng.randrange(1, 30))]
        text = IncrementalText(tokenizer, [])
        for i, token in enumerate(ids, 1):
            text.push(token)
            assert tokenizer.decode(ids[:i], skip_special_tokens=True).startswith(text.text)
        assert tokenizer.decode(ids, skip_special_tokens=True).startswith(text.text)


def test_chinese_text_streams_whole_characters(tokenizer) -> None:
    ids = tokenizer("这个包是真皮的吗？请描述图片中的内容。")["input_ids"]
    text = IncrementalText(tokenizer, [])
    streamed = ""
    for token in ids:
        text.push(token)
        delta = text.take_delta()
        assert "\ufffd" not in delta
        streamed += delta
    assert streamed == tokenizer.decode(ids, skip_special_tokens=True)


def test_a_stop_string_is_never_partly_streamed(tokenizer) -> None:
    sentence = "the quick brown fox jumps over the lazy dog"
    ids = tokenizer(sentence)["input_ids"]
    text = IncrementalText(tokenizer, ["jumps", "zzz"])
    streamed = ""
    for token in ids:
        text.push(token)
        streamed += text.take_delta()
        if text.stopped:
            break
    assert text.stopped and "jumps" in text.text
    assert sentence.startswith(streamed) and "j" not in streamed[len("the quick brown fox") :]
    assert len(streamed) <= sentence.index("jumps")
    assert text.take_delta() == ""  # nothing more once stopped
