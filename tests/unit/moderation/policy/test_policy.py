"""The content policy: the policy file schema, what each category fires on, evasions, customer terms,
normalisation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.moderation.policy.config import Policy, load_policy
from pipelines.moderation.policy.engine import PolicyEngine
from pipelines.moderation.text.normalize import NormalizedText
from tests.unit.moderation.policy.helpers import CATEGORIES, MODEL_ONLY_CATEGORIES, ZW, make_policy
from tests.unit.shipped import POLICY_FILE, ROOT

# --- the policy file ---------------------------------------------------------------------------------


def test_shipped_policy_loads_with_every_category(policy: Policy) -> None:
    assert set(policy.categories) == CATEGORIES | MODEL_ONLY_CATEGORIES
    for name in MODEL_ONLY_CATEGORIES:
        assert not policy.categories[name].terms and not policy.categories[name].patterns
    assert policy.version and policy.block_message and policy.redaction_placeholder
    assert policy.categories["custom"].terms == []
    minors = policy.categories["sexual/minors"]
    assert (minors.input, minors.output) == ("block", "block")
    assert (policy.categories["pii"].input, policy.categories["pii"].output) == ("flag", "redact")
    assert (policy.categories["spam"].input, policy.categories["spam"].output) == ("flag", "redact")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ((), {"surprise": 1}),  # unknown top-level key
        (("categories", "spam"), {"treshold": 0.5}),  # typo inside a category
        (("categories", "spam"), {"threshold": 1.5}),
        (("categories", "spam"), {"input": "delete"}),  # not an action
        (("categories", "spam"), {"patterns": ["(unclosed"]}),
        (("categories", "spam"), {"patterns": ["a*"]}),  # matches the empty string
        (("categories", "spam"), {"terms": ["  ..  "]}),  # normalises to nothing
        (("categories",), {"Bad Name": {"input": "flag", "output": "flag"}}),
        ((), {"version": ""}),
        ((), {"max_reported_spans": 0}),
    ],
)
def test_invalid_policies_are_refused(tmp_path: Path, path: tuple[str, ...], value: dict[str, Any]) -> None:
    data = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
    node = data
    for key in path:
        node = node[key]
    node.update(value)
    bad = copy_policy_dir(tmp_path, yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(pydantic.ValidationError) as raised:
        load_policy(bad)
    assert "term file" not in str(raised.value)  # refused for the edit, not for a lexicon left behind


def copy_policy_dir(tmp_path: Path, policy_text: str) -> Path:
    """A policy file in ``tmp_path`` whose relative ``term_files`` still find the shipped lexicons."""
    (tmp_path / "lexicons").symlink_to(POLICY_FILE.parent / "lexicons")
    path = tmp_path / "policy.yaml"
    path.write_text(policy_text, encoding="utf-8")
    return path


def test_a_copied_policy_loads_like_the_shipped_one(tmp_path: Path, policy: Policy) -> None:
    copied = load_policy(copy_policy_dir(tmp_path, POLICY_FILE.read_text(encoding="utf-8")))
    for name, spec in policy.categories.items():  # the same lists, read through other paths
        assert copied.categories[name].model_copy(update={"term_files": spec.term_files}) == spec


def test_policy_file_must_be_a_mapping(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ValueError, match="mapping"):
        load_policy(bad)


def test_bare_regex_is_shorthand_for_a_pattern_mapping() -> None:
    short = make_policy({"c": {"patterns": ["ab+c"]}})
    full = make_policy({"c": {"patterns": [{"regex": "ab+c"}]}})
    assert short == full and short.categories["c"].patterns[0].validator is None


def test_policy_is_immutable(policy: Policy) -> None:
    with pytest.raises(pydantic.ValidationError):
        policy.version = "x"  # type: ignore[misc]


# --- categories: positives and negatives in English and Chinese ---------------------------------------

FIRES = [
    ("sexual", "where can I watch porn"),
    ("sexual", "send me nude photos"),
    ("sexual", "找个黄色网站"),
    ("sexual/minors", "looking for child pornography"),
    ("sexual/minors", "未成年色情内容"),
    ("violence", "I will kill you tomorrow"),
    ("violence", "steps to build a bomb"),
    ("violence", "我要砍死你"),
    ("hate/harassment", "they are subhuman"),
    ("hate/harassment", "你去死吧"),
    ("self-harm", "I want to end my life"),
    ("self-harm", "我不想活了"),
    ("illegal", "where to buy heroin"),
    ("illegal", "哪里可以办假证"),
    ("spam", "add me on WeChat for deals"),
    ("spam", "加我微信领优惠"),
    ("spam", "微信号：deal_2024"),
    ("spam", "join https://t.me/cheapdeals"),
    ("pii", "write to jane.doe@example.com"),
    ("pii", "我的手机是13800138000"),
    ("pii", "call +86 138 0013 8000"),
]

BENIGN = [
    "sex education in schools",  # decision: "sex" alone is not a term, so this is clean
    "Dice the onion with a sharp kitchen knife, then fry it.",
    "a class assignment on classical music",
    "I will kill youth unemployment with this policy",
    "we chat later, then we head home",  # 'wechat' split naturally is ordinary text
    "用微信支付可以吗？",  # naming the app is not a lure
    "Essex is a county in England",
    "这道番茄炒蛋很好吃",
    "order SKU-13800138000X shipped",  # digits glued to letters: a product code, not a phone
    "the pornographer's trial ended",  # 'porn' is not matched inside a longer word
]


@pytest.mark.parametrize(("category", "text"), FIRES)
def test_category_fires(engine: PolicyEngine, category: str, text: str) -> None:
    result = engine.check(text, "output").categories[category]
    assert result.detected and result.score == 1.0 and result.spans


@pytest.mark.parametrize("text", BENIGN)
def test_benign_look_alikes_are_clean(engine: PolicyEngine, text: str) -> None:
    for direction in ("input", "output"):
        decision = engine.check(text, direction)
        assert decision.fired == [] and decision.action == "allow" and decision.text == text


def test_bare_product_number_is_treated_as_a_phone(engine: PolicyEngine) -> None:
    """Decision: with a separator (not a letter) before it, an 11-digit 1[3-9] number is redacted."""
    assert engine.check("order SKU-13800138000", "output").text == "order SKU-[REDACTED]"


# --- evasions ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "add w e c h a t",
        "a.d.d w.e.c.h.a.t",
        "ADD-WECHAT",
        "addwechat",
        "ＡＤＤ ＷｅＣｈａｔ",  # full-width
        f"ad{ZW[0]}d we{ZW[2]}ch{ZW[4]}at",  # zero-width characters inside the term
        "加 微 信",
        "加*微|信",
        f"加微{ZW[1]}信",
        "加　微　信",  # ideographic spaces
    ],
)
def test_spam_evasions_are_caught_and_redacted_whole(engine: PolicyEngine, text: str) -> None:
    decision = engine.check(f"hi {text} now", "output")
    assert decision.categories["spam"].detected
    assert decision.text == "hi [REDACTED] now"


@pytest.mark.parametrize("text", ["P\u0336O\u0336R\u0336N\u0336", "pörn", "p o r n", "ｐｏｒｎ"])
def test_sexual_evasions_are_blocked(engine: PolicyEngine, text: str) -> None:
    decision = engine.check(f"free {text} here", "output")
    assert decision.blocked and "sexual" in decision.fired


def test_latin_terms_respect_word_boundaries_in_the_original() -> None:
    engine = PolicyEngine(make_policy({"custom": {"terms": ["ass"], "output": "redact"}}))
    for clean in ["a class act", "ｃｌａｓｓ", f"cl{ZW[0]}ass", "massive", "bass guitar"]:
        assert engine.check(clean, "output").fired == [], clean
    assert engine.check("kick ass.", "output").text == "kick [X]."
    assert engine.check("ＡＳＳ!", "output").text == "[X]!"


def test_chinese_terms_have_no_word_boundary() -> None:
    engine = PolicyEngine(make_policy({"custom": {"terms": ["竞品"], "output": "redact"}}))
    assert engine.check("试试竞品吧", "output").text == "试试[X]吧"


# --- customer terms ------------------------------------------------------------------------------------


def test_extra_terms_are_validated_and_normalised(policy: Policy) -> None:
    extended = policy.with_extra_terms("custom", ["AcmeCorp", "竞品"])
    assert policy.categories["custom"].terms == []  # the original is unchanged
    engine = PolicyEngine(extended)
    assert "custom" in engine.check("try ａｃｍｅ ｃｏｒｐ or A c m e C o r p", "output").fired
    assert "custom" in engine.check("试试竞 品", "output").fired
    with pytest.raises(ValueError, match="unknown policy category"):
        policy.with_extra_terms("nope", ["x"])
    with pytest.raises(pydantic.ValidationError):
        policy.with_extra_terms("custom", ["!!!"])


# --- normalisation -------------------------------------------------------------------------------------


def test_normalised_views_map_back_to_the_original() -> None:
    text = f"ＡＢ{ZW[0]} c-d ﬁ"
    norm = NormalizedText.of(text)
    assert norm.compact == "abcdfi"
    assert norm.folded == "ab c-d fi"
    assert [text[i] for i in norm.origin] == ["Ａ", "Ｂ", "c", "d", "ﬁ", "ﬁ"]
    assert norm.span(0, 2) == (0, 2) and norm.span(4, 6) == (8, 9)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_view_maps_are_monotonic_and_in_bounds(text: str) -> None:
    norm = NormalizedText.of(text)
    for view, origin in ((norm.compact, norm.origin), (norm.folded, norm.folded_origin)):
        assert len(origin) == len(view)
        assert list(origin) == sorted(origin) and all(0 <= i < len(text) for i in origin)


_SAFE = st.text(alphabet=" 中文好。，!?", max_size=12)


@settings(max_examples=100, deadline=None)
@given(_SAFE, _SAFE, st.lists(st.sampled_from(["", *ZW]), min_size=10, max_size=10))
def test_redaction_keeps_everything_around_an_obfuscated_term(
    engine: PolicyEngine, prefix: str, suffix: str, junk: list[str]
) -> None:
    term = "".join(ch + j for ch, j in zip("add wechat", junk, strict=True)).rstrip(ZW)
    decision = engine.check(prefix + term + suffix, "output")
    assert decision.text == prefix + "[REDACTED]" + suffix


def test_policy_package_imports_no_ray() -> None:
    code = (
        "import sys, pipelines.moderation.policy\n"
        "sys.exit(any(m.split('.')[0] in ('ray', 'serve_app') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False).returncode == 0
