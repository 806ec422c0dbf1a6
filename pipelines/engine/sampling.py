"""Per-request sampling, batched on the device, for both engines.

Every request keeps its own temperature, top-p and seed (its own ``torch.Generator``). One
``sample_tokens`` call picks the next token of every row at once: greedy rows by one argmax over
the batch; sampled rows by the exponential race (``argmax(p / q)`` with ``q ~ Exp(1)`` drawn from
each row's generator, the trick vLLM uses), which samples exactly from ``p`` with no host sync
and no per-row ``multinomial``. The plan (which rows sample, with what) is built when the batch
changes, not per step.

``PerRequestSampler`` and ``PerRequestStop`` adapt the same rules to one ``model.generate`` call:
generation runs greedily and the sampler leaves only the chosen token finite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from transformers import LogitsProcessor, StoppingCriteria

from pipelines.core.types import SamplingParams

_BYTES_PER_CHAR_MAX = 4  # UTF-8
_KEEP_ALL = 2.0  # a top-p threshold no cumulative probability reaches: nothing is cut


def seeded_generator(seed: int | None, device: torch.device) -> torch.Generator:
    """A request's own random stream: reproducible for a seed, fresh entropy without one."""
    gen = torch.Generator(device=device)
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(seed)
    return gen


@dataclass
class SamplingPlan:
    """Which rows of a batch sample (the rest are greedy), with their parameters on the device."""

    rows: torch.Tensor  # (S,) long: the sampled rows
    temperature: torch.Tensor  # (S, 1) float32
    top_p: torch.Tensor  # (S, 1) float32, _KEEP_ALL where top_p == 1
    generators: list[torch.Generator]
    any_top_p: bool

    @classmethod
    def build(
        cls, rows: Sequence[tuple[int, SamplingParams, torch.Generator]], device: torch.device
    ) -> SamplingPlan | None:
        """``rows``: (row index, params, generator) of every non-greedy row; None when all are greedy."""
        if not rows:
            return None
        index = [row for row, _, _ in rows]
        temperature = [[p.temperature] for _, p, _ in rows]
        top_p = [[p.top_p if p.top_p < 1.0 else _KEEP_ALL] for _, p, _ in rows]
        return cls(
            rows=torch.tensor(index, dtype=torch.long).to(device, non_blocking=True),
            temperature=torch.tensor(temperature, dtype=torch.float32).to(device, non_blocking=True),
            top_p=torch.tensor(top_p, dtype=torch.float32).to(device, non_blocking=True),
            generators=[gen for _, _, gen in rows],
            any_top_p=any(p.top_p < 1.0 for _, p, _ in rows),
        )


def sampled_subset(logits: torch.Tensor, plan: SamplingPlan) -> torch.Tensor:
    """The chosen token of each sampled row of ``plan`` (in plan order), on the device."""
    probs = torch.softmax(logits.index_select(0, plan.rows).float() / plan.temperature, dim=-1)
    if plan.any_top_p:
        sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
        # keep the smallest prefix whose mass reaches top_p (always at least one token)
        drop = sorted_probs.cumsum(dim=-1) - sorted_probs >= plan.top_p
        probs = torch.zeros_like(probs).scatter_(1, order, sorted_probs.masked_fill(drop, 0.0))
    noise = torch.empty_like(probs)
    for row, generator in enumerate(plan.generators):
        noise[row].exponential_(generator=generator)
    noise.clamp_min_(torch.finfo(noise.dtype).tiny)  # a zero draw must not turn 0/0 into a NaN winner
    return torch.argmax(probs / noise, dim=-1)


def sample_tokens(logits: torch.Tensor, plan: SamplingPlan | None) -> torch.Tensor:
    """(B, V) logits -> (B,) next tokens: greedy rows by argmax, sampled rows from their own generator."""
    greedy = torch.argmax(logits, dim=-1)
    if plan is None:
        return greedy
    return greedy.index_copy(0, plan.rows, sampled_subset(logits, plan))


class PerRequestSampler(LogitsProcessor):
    """Samples the non-greedy rows inside ``generate`` and forces the choice (greedy rows untouched)."""

    def __init__(self, params: Sequence[SamplingParams], device: torch.device) -> None:
        rows = [(row, p, seeded_generator(p.seed, device)) for row, p in enumerate(params) if not p.greedy]
        self.plan = SamplingPlan.build(rows, device)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.plan is None:
            return scores
        picked = sampled_subset(scores, self.plan)
        forced = torch.full((picked.shape[0], scores.shape[1]), float("-inf"), dtype=scores.dtype, device=scores.device)
        forced.scatter_(1, picked[:, None], 0.0)
        return scores.index_copy(0, self.plan.rows, forced)


class PerRequestStop(StoppingCriteria):
    """Marks a row finished once it reached its ``max_tokens`` or produced one of its stop strings."""

    def __init__(
        self,
        params: Sequence[SamplingParams],
        prompt_length: int,
        decode: Callable[[list[int]], str],
    ) -> None:
        self.params = list(params)
        self.prompt_length = prompt_length
        self.decode = decode
        longest_stop = max((len(s) for p in self.params for s in p.stop), default=0)
        # A byte-level token can carry a fraction of a character: look back far enough.
        self.window_tokens = _BYTES_PER_CHAR_MAX * longest_stop + 1

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        generated = input_ids.shape[1] - self.prompt_length
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        for row, p in enumerate(self.params):
            if generated >= p.max_tokens:
                done[row] = True
            elif p.stop:
                tail = self.decode(input_ids[row, -min(generated, self.window_tokens) :].tolist())
                done[row] = any(s in tail for s in p.stop)
        return done
