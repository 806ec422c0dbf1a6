"""Per-request decoding inside one batched ``model.generate`` call.

``transformers`` applies one temperature/top-p/seed to a whole batch. To let each request keep
its own, generation runs in greedy mode and ``PerRequestSampler`` does the sampling itself,
row by row, with a ``torch.Generator`` per request; it then leaves only the chosen token
finite, so the greedy argmax picks exactly that token. Greedy rows pass through untouched.
``PerRequestStop`` ends each row at its own ``max_tokens`` or stop string.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from transformers import LogitsProcessor, StoppingCriteria

from pipelines.core.types import SamplingParams

_BYTES_PER_CHAR_MAX = 4  # UTF-8


def _row_generator(seed: int | None, device: torch.device) -> torch.Generator:
    gen = torch.Generator(device=device)
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(seed)
    return gen


class PerRequestSampler(LogitsProcessor):
    def __init__(self, params: Sequence[SamplingParams], device: torch.device) -> None:
        self.params = list(params)
        self.generators = [None if p.greedy else _row_generator(p.seed, device) for p in self.params]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for row, (p, gen) in enumerate(zip(self.params, self.generators, strict=True)):
            if gen is None:
                continue
            token = self._sample(scores[row].float(), p, gen)
            forced = torch.full_like(scores[row], float("-inf"))
            forced[token] = 0.0
            scores[row] = forced
        return scores

    @staticmethod
    def _sample(logits: torch.Tensor, p: SamplingParams, gen: torch.Generator) -> int:
        probs = torch.softmax(logits / p.temperature, dim=-1)
        if p.top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True)
            cumulative = torch.cumsum(sorted_probs, dim=-1)
            # keep the smallest prefix whose mass reaches top_p (always at least one token)
            drop = cumulative - sorted_probs >= p.top_p
            sorted_probs[drop] = 0.0
            probs = torch.zeros_like(probs).scatter_(0, order, sorted_probs)
        return int(torch.multinomial(probs, 1, generator=gen).item())


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
