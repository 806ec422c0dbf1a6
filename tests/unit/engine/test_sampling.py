"""Batched sampling: greedy rows are an argmax, sampled rows follow their own seeded stream."""

from __future__ import annotations

import torch

from pipelines.core.types import SamplingParams
from pipelines.engine.sampling import PerRequestSampler, SamplingPlan, sample_tokens, seeded_generator

CPU = torch.device("cpu")


def plan(rows: dict[int, SamplingParams]) -> SamplingPlan | None:
    return SamplingPlan.build([(row, p, seeded_generator(p.seed, CPU)) for row, p in rows.items()], CPU)


def test_all_greedy_is_one_argmax() -> None:
    logits = torch.randn(5, 50)
    assert SamplingPlan.build([], CPU) is None
    assert torch.equal(sample_tokens(logits, None), logits.argmax(-1))


def test_sampled_rows_depend_only_on_their_seed_not_on_row_or_batch_mates() -> None:
    torch.manual_seed(0)
    logits = torch.randn(4, 200)
    p = SamplingParams(max_tokens=1, temperature=1.0, seed=7)
    alone = [sample_tokens(logits[2:3], plan({0: p})).item() for _ in range(1)]
    mixed = sample_tokens(logits, plan({2: p, 0: SamplingParams(max_tokens=1, temperature=0.5, seed=1)}))
    assert mixed[2].item() == alone[0]
    assert mixed[1].item() == logits[1].argmax().item() and mixed[3].item() == logits[3].argmax().item()
    again = plan({2: p})
    draws = [sample_tokens(logits, again)[2].item() for _ in range(20)]
    fresh = plan({2: p})
    assert draws == [sample_tokens(logits, fresh)[2].item() for _ in range(20)]  # the stream is the seed's
    assert len(set(draws)) > 1  # and it advances


def test_sampling_follows_the_distribution() -> None:
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    logits = probs.log().expand(2000, 4).contiguous()
    p = SamplingParams(max_tokens=1, temperature=1.0, seed=3)
    rows = SamplingPlan.build([(r, p, seeded_generator(1000 + r, CPU)) for r in range(2000)], CPU)
    counts = torch.bincount(sample_tokens(logits, rows), minlength=4).float() / 2000
    assert torch.allclose(counts, probs, atol=0.04), counts


def test_top_p_keeps_the_smallest_prefix_reaching_p_and_low_temperature_sharpens() -> None:
    logits = torch.tensor([[3.0, 2.9, 0.0, -1.0]]).expand(300, 4).contiguous()
    nucleus = SamplingParams(max_tokens=1, temperature=1.0, top_p=0.6, seed=0)  # p = .51, .46, .03, .01
    picked = sample_tokens(
        logits, SamplingPlan.build([(r, nucleus, seeded_generator(r, CPU)) for r in range(300)], CPU)
    )
    assert set(picked.tolist()) <= {0, 1} and set(picked.tolist()) == {0, 1}
    tiny = SamplingParams(max_tokens=1, temperature=1.0, top_p=0.01, seed=0)
    assert sample_tokens(logits[:1], plan({0: tiny})).item() == 0  # top_p below the first token: argmax
    cold = SamplingParams(max_tokens=1, temperature=0.01, seed=0)
    assert set(
        sample_tokens(
            logits[:50], SamplingPlan.build([(r, cold, seeded_generator(r, CPU)) for r in range(50)], CPU)
        ).tolist()
    ) == {0}


def test_generate_processor_forces_the_same_choice_as_the_continuous_sampler() -> None:
    torch.manual_seed(1)
    scores = torch.randn(3, 40)
    params = [
        SamplingParams(max_tokens=1),
        SamplingParams(max_tokens=1, temperature=0.8, seed=5),
        SamplingParams(max_tokens=1),
    ]
    forced = PerRequestSampler(params, CPU)(torch.zeros(3, 1, dtype=torch.long), scores.clone())
    expected = sample_tokens(scores, plan({1: params[1]}))
    assert torch.equal(forced.argmax(-1), expected)
    assert torch.isfinite(forced[1]).sum() == 1 and torch.equal(forced[0], scores[0])
