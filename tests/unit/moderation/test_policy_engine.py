"""The rule layers of the content policy: terms, patterns with checksums, actions, directions."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from pipelines.moderation.policy.config import load_policy
from pipelines.moderation.policy.engine import PolicyEngine
from pipelines.moderation.text.checksums import cn_resident_id_valid, luhn_valid

POLICY_FILE = Path(__file__).resolve().parents[3] / "configs" / "policy.yaml"


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine(load_policy(POLICY_FILE))


FIRES = [
    ("spam", "please add WeChat abc12345"),
    ("spam", "a d d w e c h a t now"),  # spaced out
    ("spam", "ａｄｄ ＷｅＣｈａｔ"),  # full-width
    ("spam", "ad\u200bd wec\u200dhat"),  # zero-width characters inside
    ("spam", "加 微 信 聊"),  # separators between Chinese characters
    ("spam", "微信号：abc_12345"),
    ("spam", "only $9.99!!!"),
    ("spam", "join https://t.me/cheapdeals"),
    ("pii", "mail me at jane.doe@example.com"),
    ("pii", "call 138-0013-8000"),
    ("pii", "电话13800138000"),
    ("pii", "card 4111 1111 1111 1111"),
    ("pii", "身份证 11010519491231002X"),
    ("violence", "I will kill you"),
    ("violence", "how to make a bomb"),
    ("violence", "我要杀了你"),
    ("self-harm", "ways to commit suicide"),
    ("self-harm", "怎么自杀"),
    ("illegal", "where to buy cocaine"),
    ("illegal", "可以代开发票"),
    ("hate/harassment", "go kill yourself"),
    ("sexual", "send nude photos"),
    ("sexual", "色情网站"),
    ("sexual/minors", "child porn"),
]

CLEAN = [
    "we chat later about the bag",  # 'wechat' with one natural space is ordinary text
    "a class assignment",  # 'ass' inside a word
    "sex education for teenagers",
    "slice the onions with a kitchen knife",
    "order SKU-13800138000X shipped",  # looks like a phone number, is a product code
    "order number 4111 1111 1111 1112",  # fails Luhn
    "tracking 110105194912310021",  # ID-shaped, wrong check digit
    "I will kill youth unemployment with this policy",
    "这个包是真皮的吗？",
    "Is this bag real leather?",
]


@pytest.mark.parametrize(("category", "text"), FIRES)
def test_category_fires(engine: PolicyEngine, category: str, text: str) -> None:
    assert category in engine.check(text, "output").fired


@pytest.mark.parametrize("text", CLEAN)
def test_look_alike_benign_text_is_clean(engine: PolicyEngine, text: str) -> None:
    decision = engine.check(text, "output")
    assert decision.fired == [] and decision.action == "allow" and decision.text == text


def test_block_replaces_the_text(engine: PolicyEngine) -> None:
    decision = engine.check("here is how to make a bomb", "output")
    assert decision.blocked and decision.action == "block"
    assert decision.text == engine.policy.block_message
    assert decision.categories["violence"].filtered


def test_redact_replaces_exactly_the_original_span(engine: PolicyEngine) -> None:
    text = "write to ｊａｎｅ@ｅｘａｍｐｌｅ.com or a\u200bdd wechat today"
    decision = engine.check(text, "output")
    assert decision.action == "redact" and not decision.blocked
    assert decision.text == "write to [REDACTED] or [REDACTED] today"
    assert decision.categories["pii"].filtered and decision.categories["spam"].filtered


def test_flag_keeps_the_text_and_directions_differ(engine: PolicyEngine) -> None:
    text = "please add wechat"
    on_input = engine.check(text, "input")
    assert on_input.action == "flag" and on_input.text == text
    assert on_input.categories["spam"].detected and not on_input.categories["spam"].filtered
    assert engine.check(text, "output").action == "redact"


def test_every_category_is_reported_with_the_policy_version(engine: PolicyEngine) -> None:
    decision = engine.check("hello", "input")
    assert set(decision.categories) == set(engine.policy.categories)
    assert decision.policy_version == engine.policy.version
    assert all(r.action == "allow" and r.score == 0.0 for r in decision.categories.values())


def test_threshold_above_rule_score_silences_a_category() -> None:
    policy = load_policy(POLICY_FILE)
    spam = policy.categories["spam"].model_copy(update={"threshold": 1.0})
    assert (
        "spam"
        in PolicyEngine(policy.model_copy(update={"categories": {**policy.categories, "spam": spam}}))
        .check("add wechat", "output")
        .fired
    )
    # scores are 1.0 for rule hits, so only a threshold over 1 could silence them, which the schema forbids
    with pytest.raises(pydantic.ValidationError):
        spam.model_validate({**spam.model_dump(), "threshold": 1.5})


def test_extra_customer_terms(engine: PolicyEngine) -> None:
    policy = load_policy(POLICY_FILE).with_extra_terms("custom", ["AcmeCorp", "竞品"])
    custom = PolicyEngine(policy)
    assert "custom" in custom.check("try acmecorp instead", "output").fired
    assert "custom" in custom.check("试试竞品", "output").fired
    with pytest.raises(ValueError):
        policy.with_extra_terms("no-such-category", ["x"])


def test_policy_file_refuses_unknown_keys(tmp_path: Path) -> None:
    (tmp_path / "lexicons").symlink_to(POLICY_FILE.parent / "lexicons")  # the term files it names
    bad = tmp_path / "policy.yaml"
    bad.write_text(POLICY_FILE.read_text() + "\nunknown_key: 1\n")
    with pytest.raises(pydantic.ValidationError, match="unknown_key"):
        load_policy(bad)


def test_checksums() -> None:
    assert luhn_valid("4111 1111 1111 1111") and not luhn_valid("4111 1111 1111 1112")
    assert cn_resident_id_valid("11010519491231002X") and not cn_resident_id_valid("110105194912310021")
