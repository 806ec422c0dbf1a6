"""Screened streaming with the shipped policy: terms split across deltas, mid-stream redaction, blocks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pipelines.moderation.moderator import Moderator
from pipelines.moderation.policy.config import Policy, load_policy
from pipelines.moderation.policy.engine import PolicyDecision, PolicyEngine
from pipelines.moderation.stream_screen import CheckKind, StreamScreen
from pipelines.moderation.text.detectors import DetectContext, Hit
from pipelines.moderation.text.guard import GuardConfig
from pipelines.moderation.text.layers import CascadeConfig, GuardLayer, GuardLayerConfig
from pipelines.moderation.text.normalize import NormalizedText

ROOT = Path(__file__).resolve().parents[3]
APPROVE_CHARS = 256


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine(load_policy(ROOT / "configs" / "policy.yaml"))


class Recorder:
    """The output policy as a check function, recording whether each call was final."""

    def __init__(self, engine: PolicyEngine) -> None:
        self.engine = engine
        self.finals: list[bool] = []

    async def __call__(self, text: str, kind: CheckKind) -> PolicyDecision:
        self.finals.append(kind == "final")
        return self.engine.check(text, "output")


def stream(engine: PolicyEngine, deltas: list[str], hold_back: int) -> tuple[list[str], StreamScreen, Recorder]:
    check = Recorder(engine)
    screen = StreamScreen(check, hold_back, approve_chars=APPROVE_CHARS)
    return run_screen(screen, deltas), screen, check


def run_screen(screen: StreamScreen, deltas: list[str]) -> list[str]:
    """What each delta released, then what the end released (the stream stops at a block)."""

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

    return asyncio.run(run())


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


# --- a policy with a model layer (the guard): nothing is released before every layer approved it ----


class ModeratorCheck:
    """The output policy of a Moderator, as the PolicyFilter deployment answers the stream's checks."""

    def __init__(self, moderator: Moderator) -> None:
        self.moderator = moderator
        self.calls: list[tuple[CheckKind, str]] = []

    async def __call__(self, text: str, kind: CheckKind) -> PolicyDecision:
        self.calls.append((kind, text))
        return self.moderator.check(
            text, "output", "req-1", prompt="Describe the bag.", partial=kind != "final", all_layers=kind == "approve"
        )


class ScriptedModelLayer:
    """A model-backed layer (cost "model", so the cheap per-delta screen skips it) that flags a word."""

    name = "scripted-guard"
    cost = "model"

    def __init__(self, word: str, category: str = "violence") -> None:
        self.word, self.category = word, category
        self.asked: list[str] = []

    def detect(self, text: NormalizedText, context: DetectContext) -> list[Hit]:
        self.asked.append(text.original)
        found = self.word in text.original
        return [Hit(self.category, 0, 0, 1.0, self.name, "")] if found else []


def _policy_blocking(category: str) -> Policy:
    policy = load_policy(ROOT / "configs" / "policy.yaml")
    data = policy.model_dump()
    data["categories"][category]["output"] = "block"
    return Policy.model_validate(data)


def test_with_a_model_layer_text_is_released_only_after_approvals_at_sentence_ends() -> None:
    layer = ScriptedModelLayer("never-said")
    check = ModeratorCheck(Moderator(_policy_blocking("violence"), text_layers=[layer]))
    screen = StreamScreen(check, hold_back=4, approve_chars=APPROVE_CHARS)
    deltas = ["The bag is", " made of leather.", " The straps", " are canvas.", " It ships today."]
    released = run_screen(screen, deltas)
    assert "".join(released) == "".join(deltas)
    assert released[0] == ""  # no sentence end yet: nothing approved, nothing released
    assert released[1] == "The bag is made of leat"  # approved up to the sentence end, minus the hold-back
    kinds = [kind for kind, _ in check.calls]
    assert kinds == ["cheap", "cheap", "approve", "cheap", "cheap", "approve", "cheap", "approve", "final"]
    approved = [text for kind, text in check.calls if kind == "approve"]
    first, second = "The bag is made of leather.", "The bag is made of leather. The straps are canvas."
    assert approved == [first, second, "".join(deltas)]
    assert layer.asked == [*approved, "".join(deltas)]  # the model layer read every approval and the end


def test_a_model_layer_that_blocks_mid_stream_releases_nothing_of_the_blocked_sentence() -> None:
    layer = ScriptedModelLayer("detonate")
    check = ModeratorCheck(Moderator(_policy_blocking("violence"), text_layers=[layer]))
    screen = StreamScreen(check, hold_back=0, approve_chars=APPROVE_CHARS)
    released = run_screen(screen, ["Step one is easy.", " Then you detonate", " it near the crowd.", " Done."])
    assert screen.blocked
    assert "".join(released) == "Step one is easy."  # the approved sentence only; the blocked one never left
    assert "detonate" not in "".join(released)


def test_long_text_without_sentence_ends_is_approved_every_approve_chars() -> None:
    layer = ScriptedModelLayer("never-said")
    check = ModeratorCheck(Moderator(_policy_blocking("violence"), text_layers=[layer]))
    screen = StreamScreen(check, hold_back=0, approve_chars=20)
    deltas = ["word " * 3, "word " * 3, "word " * 3]  # 15 characters each, no sentence end
    released = run_screen(screen, deltas)
    assert released[0] == "" and released[1] == "word " * 6  # approved once 20 characters waited
    assert "".join(released) == "".join(deltas)


def test_tiny_guard_configured_to_block_lets_no_text_through_the_stream(tiny_guard_dir: Path) -> None:
    """The real guard layer on the tiny checkpoint answers noise, a guard outage; with the policy's
    `guard_unavailable` output action set to block, not one character of the answer reaches the client."""
    model = GuardConfig(model=str(tiny_guard_dir), dtype="float32", device="cpu", local_files_only=True)
    guard = GuardLayer(GuardLayerConfig(model=model, cascade=CascadeConfig(enabled=False)))
    check = ModeratorCheck(Moderator(_policy_blocking("guard_unavailable"), text_layers=[guard]))
    screen = StreamScreen(check, hold_back=0, approve_chars=APPROVE_CHARS)
    released = run_screen(screen, ["The bag is made", " of leather.", " It ships today."])
    assert screen.blocked
    assert "".join(released) == ""
    assert [kind for kind, _ in check.calls] == ["cheap", "cheap", "approve", "final"]
    assert guard.failures >= 1


def test_without_model_layers_the_cheap_screen_releases_as_before() -> None:
    check = ModeratorCheck(Moderator(load_policy(ROOT / "configs" / "policy.yaml")))
    screen = StreamScreen(check, hold_back=4, approve_chars=APPROVE_CHARS)
    released = run_screen(screen, ["The bag is", " made of leather"])
    assert released[0] == "The ba"
    assert [kind for kind, _ in check.calls] == ["cheap", "cheap", "final"]
