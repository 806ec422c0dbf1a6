"""The content policy's decisions: every action and direction, the decision record, thresholds, layers."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from pipelines.moderation.policy.config import Policy
from pipelines.moderation.policy.engine import PolicyDecision, PolicyEngine
from pipelines.moderation.text.detectors import Hit
from tests.unit.moderation.policy.helpers import CATEGORIES, MODEL_ONLY_CATEGORIES, ZW, StubLayer, make_policy

# --- actions -------------------------------------------------------------------------------------------


def test_block_replaces_the_text(engine: PolicyEngine, policy: Policy) -> None:
    decision = engine.check("here is how to make a bomb", "output")
    assert decision.blocked and decision.action == "block" and decision.text == policy.block_message
    violence = decision.categories["violence"]
    assert violence.filtered and violence.detected and violence.action == "block"


def test_redact_puts_the_placeholder_exactly_over_original_spans(engine: PolicyEngine) -> None:
    text = f"写信到 ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ，或者 jo{ZW[0]}hn@example.org，电话１３８－００１３－８０００。"
    decision = engine.check(text, "output")
    assert decision.action == "redact" and not decision.blocked
    assert decision.text == "写信到 [REDACTED]，或者 [REDACTED]，电话[REDACTED]。"
    spans = decision.categories["pii"].spans
    assert [text[start:end] for start, end, _ in spans] == [
        "ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ",
        f"jo{ZW[0]}hn@example.org",
        "１３８－００１３－８０００",
    ]
    assert all(layer == "patterns" for _, _, layer in spans)  # the layer, never the (redacted) text


def test_overlapping_spans_are_merged_into_one_placeholder(engine: PolicyEngine) -> None:
    decision = engine.check("please add wechat id now", "output")  # 'add wechat' and 'wechat id' overlap
    assert len(decision.categories["spam"].spans) == 2
    assert decision.text == "please [REDACTED] now"


def test_flag_keeps_the_text(engine: PolicyEngine) -> None:
    decision = engine.check("please add wechat", "input")
    spam = decision.categories["spam"]
    assert decision.action == "flag" and not decision.blocked and decision.text == "please add wechat"
    assert spam.detected and not spam.filtered and spam.action == "flag"


def test_allow_reports_the_detection_but_changes_nothing() -> None:
    engine = PolicyEngine(make_policy({"custom": {"terms": ["acme"], "input": "allow", "output": "block"}}))
    decision = engine.check("acme rocks", "input")
    assert decision.action == "allow" and decision.text == "acme rocks"
    assert decision.categories["custom"].detected and not decision.categories["custom"].filtered


def test_strongest_action_wins(engine: PolicyEngine, policy: Policy) -> None:
    decision = engine.check("mail jane@example.com about the pipe bomb", "output")
    assert decision.categories["pii"].action == "redact" and decision.categories["violence"].action == "block"
    assert decision.action == "block" and decision.text == policy.block_message


# --- directions ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "on_input", "on_output"),
    [
        ("child porn", "block", "block"),
        ("add wechat", "flag", "redact"),
        ("jane@example.com", "flag", "redact"),
        ("how to make a bomb", "flag", "block"),
        ("I want to end my life", "flag", "block"),
        ("hello there", "allow", "allow"),
    ],
)
def test_actions_depend_on_the_direction(engine: PolicyEngine, text: str, on_input: str, on_output: str) -> None:
    assert engine.check(text, "input").action == on_input
    assert engine.check(text, "output").action == on_output


def test_unknown_direction_is_refused(engine: PolicyEngine) -> None:
    with pytest.raises(ValueError, match="direction"):
        engine.check("hello", "sideways")  # type: ignore[arg-type]


# --- the decision --------------------------------------------------------------------------------------


def test_every_category_is_reported_with_the_version(engine: PolicyEngine, policy: Policy) -> None:
    decision = engine.check("add wechat", "output")
    assert set(decision.categories) == CATEGORIES | MODEL_ONLY_CATEGORIES
    assert decision.policy_version == policy.version and decision.direction == "output"
    quiet = decision.categories["violence"]
    quiet_fields = (quiet.detected, quiet.filtered, quiet.score, quiet.action, quiet.spans)
    assert quiet_fields == (False, False, 0.0, "allow", [])


def test_decision_pickles_and_converts_to_plain_data(engine: PolicyEngine) -> None:
    decision = engine.check("mail jane@example.com", "output")
    assert pickle.loads(pickle.dumps(decision)) == decision
    data = dataclasses.asdict(decision)
    assert data["categories"]["pii"]["spans"] == [(5, 21, "patterns")]
    assert isinstance(decision, PolicyDecision)


def test_reported_spans_are_capped_but_all_are_redacted() -> None:
    policy = make_policy({"pii": {"patterns": [r"\d+"], "output": "redact"}}, max_reported_spans=2)
    engine = PolicyEngine(policy)
    decision = engine.check("1 2 3 4 5", "output")
    assert len(decision.categories["pii"].spans) == 2
    assert decision.text == "[X] [X] [X] [X] [X]"


def test_empty_text(engine: PolicyEngine) -> None:
    decision = engine.check("", "output")
    assert decision.action == "allow" and decision.text == ""


# --- thresholds and layers -----------------------------------------------------------------------------


@pytest.mark.parametrize(("score", "detected"), [(0.49, False), (0.5, True), (0.9, True)])
def test_threshold_is_inclusive(score: float, detected: bool) -> None:
    layer = StubLayer([Hit("violence", 0, 0, score, "stub", "")])
    policy = make_policy({"violence": {"threshold": 0.5, "output": "flag"}})
    result = PolicyEngine(policy, [layer]).check("whatever", "output").categories["violence"]
    assert result.detected is detected and result.score == score
    assert result.action == ("flag" if detected else "allow")


def test_rule_hits_score_one_so_any_threshold_fires() -> None:
    policy = make_policy({"custom": {"terms": ["acme"], "threshold": 1.0, "output": "flag"}})
    assert PolicyEngine(policy).check("acme", "output").categories["custom"].score == 1.0
    assert PolicyEngine(policy).check("acme", "output").fired == ["custom"]


def test_sub_threshold_spans_are_neither_reported_nor_redacted() -> None:
    layer = StubLayer([Hit("pii", 0, 4, 0.3, "stub", "jane")])
    policy = make_policy({"pii": {"threshold": 0.5, "output": "redact"}})
    decision = PolicyEngine(policy, [layer]).check("jane smith", "output")
    assert decision.text == "jane smith" and decision.categories["pii"].spans == []


def test_whole_text_hit_on_a_redact_category_blocks() -> None:
    layer = StubLayer([Hit("pii", 0, 0, 0.9, "stub", "")])
    policy = make_policy({"pii": {"output": "redact"}})
    decision = PolicyEngine(policy, [layer]).check("some personal story", "output")
    assert decision.blocked and decision.categories["pii"].action == "block"


def test_a_rule_block_skips_the_expensive_layers(engine: PolicyEngine, policy: Policy) -> None:
    layer = StubLayer([])
    guarded = PolicyEngine(policy, [layer])
    guarded.check("child porn", "output")
    assert layer.calls == 0
    guarded.check("hello", "output")
    guarded.check("add wechat", "output")  # redact does not short-circuit
    assert layer.calls == 2


def test_hits_for_categories_outside_the_policy_are_ignored() -> None:
    layer = StubLayer([Hit("jailbreak", 0, 0, 1.0, "stub", "")])
    decision = PolicyEngine(make_policy({"custom": {}}), [layer]).check("hi", "input")
    assert decision.action == "allow" and set(decision.categories) == {"custom"}
