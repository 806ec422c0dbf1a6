"""An optional guard-model layer for the content policy, built on ``Qwen/Qwen3Guard-Gen-0.6B``.

Qwen3Guard-Gen is a Qwen3 causal LM fine-tuned to classify safety as instruction following: its own
chat template wraps the conversation in a moderation instruction (prompt moderation for a final user
turn, response moderation for a final assistant turn) and the model answers with a few lines::

    Safety: Unsafe
    Categories: Violent
    Refusal: No            # response moderation only

This module turns that text into a :class:`GuardVerdict` in *our* policy's category names. Output
that cannot be parsed is reported as ``"unparseable"``, never as safe: the caller applies its fail
mode. Plain Python (no Ray, no Serve); the tiny random checkpoint of ``devtools.tiny_guard`` loads
through the same :class:`GuardModel` code path as the real model.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from pipelines.engine.config import Device, HubRevision, LocalFilesOnly, WeightsDType
from pipelines.engine.vlm import EngineConfig, resolve_device, resolve_dtype

logger = logging.getLogger(__name__)

Direction = Literal["input", "output"]
Safety = Literal["safe", "unsafe", "controversial", "unparseable"]

# Qwen3Guard-Gen's categories, as its template lists them; Jailbreak applies to prompts only.
QWEN3GUARD_RESPONSE_CATEGORIES = (
    "Violent",
    "Non-violent Illegal Acts",
    "Sexual Content or Sexual Acts",
    "PII",
    "Suicide & Self-Harm",
    "Unethical Acts",
    "Politically Sensitive Topics",
    "Copyright Violation",
)
QWEN3GUARD_PROMPT_CATEGORIES = (*QWEN3GUARD_RESPONSE_CATEGORIES, "Jailbreak")
NO_CATEGORY = "None"

# Qwen3Guard category -> our policy category. "Unethical Acts" is Qwen3Guard's bucket for bias,
# discrimination, hate speech, harassment and insults, which is what our `hate/harassment` covers.
DEFAULT_CATEGORY_MAP: dict[str, str] = {
    "Violent": "violence",
    "Non-violent Illegal Acts": "illegal",
    "Sexual Content or Sexual Acts": "sexual",
    "PII": "pii",
    "Suicide & Self-Harm": "self-harm",
    "Unethical Acts": "hate/harassment",
    "Politically Sensitive Topics": "political",
    "Copyright Violation": "copyright",
    "Jailbreak": "jailbreak",
}

_SAFETY_LINE = re.compile(r"^\s*safety\s*:\s*(safe|unsafe|controversial)\b", re.IGNORECASE)
_CATEGORIES_LINE = re.compile(r"^\s*categories\s*:(.*)$", re.IGNORECASE)
_REFUSAL_LINE = re.compile(r"^\s*refusal\s*:\s*(yes|no)\b", re.IGNORECASE)


class GuardConfig(BaseModel):
    """How to load the guard model and how to read its verdicts."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(
        "Qwen/Qwen3Guard-Gen-0.6B", description="Hugging Face id or local directory of a Qwen3Guard-Gen checkpoint."
    )
    revision: HubRevision = None
    dtype: WeightsDType = "auto"
    device: Device = "auto"
    local_files_only: LocalFilesOnly = False
    max_new_tokens: int = Field(
        32, ge=1, description="Generation budget; the verdict (Safety, Categories, Refusal lines) needs ~20 tokens."
    )
    controversial_as: Literal["unsafe", "safe"] = Field(
        "unsafe",
        description="How a `Controversial` verdict counts: `unsafe` scores its categories with "
        "`score_controversial`; `safe` fires nothing (the raw categories are still reported).",
    )
    category_map: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_CATEGORY_MAP),
        description="Qwen3Guard category name -> policy category name (names match case-insensitively).",
    )
    fallback_category: str = Field(
        "other",
        description="Policy category for an unsafe verdict whose categories are missing, `None` or not in "
        "`category_map`, so that an unsafe signal is never dropped.",
    )
    score_unsafe: float = Field(1.0, ge=0.0, le=1.0, description="Score of each category of an `Unsafe` verdict.")
    score_controversial: float = Field(
        0.5, ge=0.0, le=1.0, description="Score of each category of a `Controversial` verdict counted as unsafe."
    )


class GuardVerdict(BaseModel):
    """One classification. ``categories``/``scores`` are in policy names; ``raw_*`` keep the guard's words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    safety: Safety = Field(description="The guard's tier, or `unparseable` when no `Safety:` line was found.")
    categories: list[str] = Field(default_factory=list, description="Policy categories that fired (deduplicated).")
    scores: dict[str, float] = Field(default_factory=dict, description="Score per fired policy category.")
    raw_categories: list[str] = Field(default_factory=list, description="Category names as the guard wrote them.")
    refusal: bool | None = Field(None, description="Response moderation's `Refusal:` line; None when absent.")
    raw_text: str = Field("", description="The generated text, for debugging and audit.")
    latency_s: float | None = Field(None, description="Wall time of the guard call this verdict came from.")

    @property
    def parsed(self) -> bool:
        return self.safety != "unparseable"

    @property
    def flagged(self) -> bool:
        """Whether any policy category fired (False for unparseable output: check ``parsed`` first)."""
        return bool(self.categories)


def _normalise(name: str) -> str:
    return " ".join(name.split()).casefold()


def _find(pattern: re.Pattern[str], lines: list[str]) -> re.Match[str] | None:
    return next((m for m in map(pattern.match, lines) if m), None)


def _split_categories(value: str) -> list[str]:
    names = (part.strip().rstrip(".").strip() for part in value.split(","))
    return [n for n in names if n and _normalise(n) != _normalise(NO_CATEGORY)]


def map_categories(raw: list[str], config: GuardConfig) -> list[str]:
    """Policy categories for the guard's names, in order, deduplicated; unknown names -> fallback."""
    lookup = {_normalise(k): v for k, v in config.category_map.items()}
    mapped = [lookup.get(_normalise(name), config.fallback_category) for name in raw]
    return list(dict.fromkeys(mapped or [config.fallback_category]))


def parse_guard_output(text: str, config: GuardConfig) -> GuardVerdict:
    """Read Qwen3Guard-Gen's answer; tolerant of case, whitespace, extra lines and ``<think>`` blocks."""
    lines = text.splitlines()
    safety_match = _find(_SAFETY_LINE, lines)
    categories_match = _find(_CATEGORIES_LINE, lines)
    refusal_match = _find(_REFUSAL_LINE, lines)
    raw_categories = _split_categories(categories_match.group(1)) if categories_match else []
    refusal = refusal_match.group(1).casefold() == "yes" if refusal_match else None
    if safety_match is None:
        return GuardVerdict(safety="unparseable", raw_categories=raw_categories, refusal=refusal, raw_text=text)
    safety: Safety = safety_match.group(1).casefold()  # type: ignore[assignment]
    score = _tier_score(safety, config)
    categories = map_categories(raw_categories, config) if score is not None else []
    return GuardVerdict(
        safety=safety,
        categories=categories,
        scores=dict.fromkeys(categories, score) if score is not None else {},
        raw_categories=raw_categories,
        refusal=refusal,
        raw_text=text,
    )


def _tier_score(safety: Safety, config: GuardConfig) -> float | None:
    """The score a tier gives its categories, or None when the tier fires nothing."""
    if safety == "unsafe":
        return config.score_unsafe
    if safety == "controversial" and config.controversial_as == "unsafe":
        return config.score_controversial
    return None


def moderation_messages(text: str, direction: Direction, prompt: str | None = None) -> list[dict[str, str]]:
    """The chat Qwen3Guard's template expects: the last role picks prompt vs response moderation.

    Response moderation without the user prompt sends the assistant turn alone.
    """
    if direction == "input":
        return [{"role": "user", "content": text}]
    messages = [{"role": "user", "content": prompt}] if prompt is not None else []
    return [*messages, {"role": "assistant", "content": text}]


# Private-use characters no tokenizer treats as special: where the untrusted texts go in the template.
_SENTINEL_START = "\ue000"
_SENTINEL = _SENTINEL_START + "{}\ue001"
_SENTINEL_SPLIT = re.compile("\ue000([01])\ue001")


class GuardModel:
    """A loaded Qwen3Guard-Gen checkpoint; ``classify`` runs one greedy, left-padded batch."""

    def __init__(self, config: GuardConfig) -> None:
        self.config = config
        # The engine's resolvers read only `device` and `dtype`; reuse them through an EngineConfig view.
        view = EngineConfig(model=config.model, dtype=config.dtype, device=config.device)
        self.device = resolve_device(view)
        self.dtype = resolve_dtype(view, self.device)
        common: dict[str, Any] = {"revision": config.revision, "local_files_only": config.local_files_only}
        self.tokenizer = AutoTokenizer.from_pretrained(config.model, **common)
        self.tokenizer.padding_side = "left"
        specials = {t.content for t in self.tokenizer.added_tokens_decoder.values() if t.special}
        specials |= set(self.tokenizer.all_special_tokens)
        # longest first, so a token that is a prefix of another never splits it
        self._special_split = re.compile(
            "(" + "|".join(re.escape(t) for t in sorted(specials, key=len, reverse=True)) + ")"
        )
        self.model = AutoModelForCausalLM.from_pretrained(config.model, dtype=self.dtype, **common)
        self.model.to(self.device).eval()
        self.eos_token_ids = self._eos_token_ids()
        pad = self.tokenizer.pad_token_id
        self.pad_token_id = pad if pad is not None else self.eos_token_ids[0]
        logger.info(
            "loaded guard %s (revision=%s) on %s dtype=%s", config.model, config.revision, self.device, self.dtype
        )

    def _eos_token_ids(self) -> list[int]:
        eos = self.model.generation_config.eos_token_id
        ids = list(eos) if isinstance(eos, list) else [eos] if eos is not None else []
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(self.tokenizer.eos_token_id)
        return ids

    def render(self, texts: list[str], direction: Direction, prompts: list[str] | None = None) -> list[str]:
        """The moderation prompts, as the checkpoint's own chat template writes them (for reading;
        :meth:`encode` is what the model gets)."""
        return [self._template(text, direction, prompt) for text, prompt in self._paired(texts, direction, prompts)]

    def encode(self, texts: list[str], direction: Direction, prompts: list[str] | None = None) -> list[list[int]]:
        """Token ids of each moderation prompt, with the untrusted text unable to forge a role token.

        The template is rendered around sentinels. Only the template's own special tokens
        (``<|im_start|>``, the role marker) become special ids; every run of plain text between them,
        the user's and the model's text included, is tokenized with ``split_special_tokens=True``, so
        a text spelling ``<|im_end|>`` stays those characters. Without such strings the ids equal
        what the tokenizer makes of the rendered prompt.
        """
        encoded = []
        for text, prompt in self._paired(texts, direction, prompts):
            untrusted = [text] if prompt is None else [text, prompt]
            rendered = self._template(
                _SENTINEL.format(0), direction, _SENTINEL.format(1) if prompt is not None else None
            )
            if rendered.count(_SENTINEL_START) != len(untrusted):
                raise ValueError("the guard's chat template dropped or repeated the moderated text")
            ids: list[int] = []
            plain: list[str] = []
            for index, piece in enumerate(_SENTINEL_SPLIT.split(rendered)):
                if index % 2:  # a captured sentinel number: the untrusted text it stands for
                    plain.append(untrusted[int(piece)])
                    continue
                for part_index, part in enumerate(self._special_split.split(piece)):
                    if part_index % 2:  # one of the template's special tokens
                        ids += self._plain_ids(plain)
                        plain = []
                        ids.append(self.tokenizer.convert_tokens_to_ids(part))
                    elif part:
                        plain.append(part)
            ids += self._plain_ids(plain)
            encoded.append(ids)
        return encoded

    def _plain_ids(self, parts: list[str]) -> list[int]:
        if not parts:
            return []
        text = "".join(parts)
        return self.tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]

    def _paired(
        self, texts: list[str], direction: Direction, prompts: list[str] | None
    ) -> list[tuple[str, str | None]]:
        if prompts is not None and direction == "input":
            raise ValueError("prompts apply to output moderation only")
        if prompts is not None and len(prompts) != len(texts):
            raise ValueError(f"{len(prompts)} prompts for {len(texts)} texts")
        return list(zip(texts, prompts if prompts is not None else [None] * len(texts), strict=True))

    def _template(self, text: str, direction: Direction, prompt: str | None) -> str:
        return self.tokenizer.apply_chat_template(
            moderation_messages(text, direction, prompt), tokenize=False, add_generation_prompt=True
        )

    def classify(self, texts: list[str], direction: Direction, prompts: list[str] | None = None) -> list[GuardVerdict]:
        """One verdict per text; output moderation pairs each text with its user prompt when given."""
        if not texts:
            return []
        started = time.perf_counter()
        generated = self.generate(self.encode(texts, direction, prompts))
        latency = time.perf_counter() - started
        return [parse_guard_output(raw, self.config).model_copy(update={"latency_s": latency}) for raw in generated]

    @torch.inference_mode()
    def generate(self, prompts: list[list[int]]) -> list[str]:
        """Greedy generation for encoded prompts (left-padded into one batch); the decoded new text of each."""
        batch = self.tokenizer.pad({"input_ids": prompts}, padding=True, return_tensors="pt").to(self.device)
        gen_config = GenerationConfig(
            max_new_tokens=self.config.max_new_tokens,
            do_sample=False,
            eos_token_id=self.eos_token_ids,
            pad_token_id=self.pad_token_id,
        )
        output = self.model.generate(**batch, generation_config=gen_config)
        prompt_length = batch["input_ids"].shape[1]
        return [self._decode(tokens) for tokens in output[:, prompt_length:].tolist()]

    def _decode(self, tokens: list[int]) -> str:
        end = next((i for i, tok in enumerate(tokens) if tok in self.eos_token_ids), len(tokens))
        return self.tokenizer.decode(tokens[:end], skip_special_tokens=True)
