"""Screened streaming with the shipped policy: terms split across deltas, mid-stream redaction, blocks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pipelines.moderation.policy.config import load_policy
from pipelines.moderation.policy.engine import PolicyDecision, PolicyEngine
from pipelines.moderation.stream_screen import StreamScreen

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine(load_policy(ROOT / "configs" / "policy.yaml"))


class Recorder:
    """The output policy as a check function, recording whether each call was final."""

    def __init__(self, engine: PolicyEngine) -> None:
        self.engine = engine
        self.finals: list[bool] = []

    async def __call__(self, text: str, final: bool) -> PolicyDecision:
        self.finals.append(final)
        return self.engine.check(text, "output")


def stream(engine: PolicyEngine, deltas: list[str], hold_back: int) -> tuple[list[str], StreamScreen, Recorder]:
    check = Recorder(engine)
    screen = StreamScreen(check, hold_back)

    async def run() -> list[str]:
        released = []
        for delta in deltas:
            step = await screen.feed(delta)
            released.append(step.release)
            if step.blocked:
                await screen.finish()
                return released
        released.append((await screen.finish()).release)
        return released

    return asyncio.run(run()), screen, check


def test_clean_text_streams_whole_and_held_back_until_safe(engine: PolicyEngine) -> None:
    deltas = ["The bag ", "is made ", "of full-grain ", "leather ", "and the stitching ", "is even."]
    released, screen, check = stream(engine, deltas, hold_back=10)
    assert "".join(released) == "".join(deltas)
    assert released[0] == ""  # fewer than hold_back characters so far
    for i in range(len(deltas)):  # never closer than hold_back characters to what the model has said
        assert len("".join(released[: i + 1])) <= max(0, len("".join(deltas[: i + 1])) - 10)
    assert check.finals == [False] * len(deltas) + [True]  # one full, audited check at the end
    assert not screen.blocked


def test_card_number_split_across_deltas_is_redacted_and_never_streamed(engine: PolicyEngine) -> None:
    deltas = ["Sure, pay with ", "card 4111 11", "11 1111 ", "1111 and we ", "ship today. Anything else?"]
    released, screen, _ = stream(engine, deltas, hold_back=24)
    text = "".join(released)
    assert "4111" not in text and "1111" not in text
    assert text == "Sure, pay with card [REDACTED] and we ship today. Anything else?"
    assert not screen.blocked


def test_blocked_term_split_across_deltas_stops_the_stream(engine: PolicyEngine) -> None:
    deltas = ["Here is how to make a pi", "pe bo", "mb at home: first ", "you need", " more text"]
    released, screen, check = stream(engine, deltas, hold_back=24)
    assert screen.blocked
    assert "pipe" not in "".join(released) and "bomb" not in "".join(released)
    assert len(released) == 3  # stopped at the delta that completed the term
    assert check.finals[-1] is True  # the block was decided again by a full, audited check


def test_spaced_out_evasion_across_deltas_is_caught(engine: PolicyEngine) -> None:
    deltas = ["Great bag! For a discount add w e", " c h a", " t  bagdeals88 today"]
    released, _, _ = stream(engine, deltas, hold_back=24)
    text = "".join(released)
    assert "w e c h a t" not in text and "[REDACTED]" in text  # spam in an output: redact


def test_decision_reaching_into_released_text_blocks_instead_of_recalling(engine: PolicyEngine) -> None:
    """With no hold-back, a card number completed later cannot be redacted in text already sent."""
    deltas = ["card 4111 1111 ", "1111 1111 thanks"]
    released, screen, _ = stream(engine, deltas, hold_back=0)
    assert screen.blocked
    assert released == ["card 4111 1111 ", ""]
