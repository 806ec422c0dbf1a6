"""The content policy: policy file schema, normalisation, every action and direction, thresholds, layers."""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from evals.categories import POLICY_CATEGORIES
from pipelines.moderation.policy.config import Policy, load_policy
from pipelines.moderation.policy.engine import PolicyDecision, PolicyEngine
from pipelines.moderation.text.detectors import DetectContext, Hit
from pipelines.moderation.text.normalize import NormalizedText

ROOT = Path(__file__).resolve().parents[2]
POLICY_FILE = ROOT / "configs" / "policy.yaml"
CATEGORIES = {*POLICY_CATEGORIES, "custom"}
ZW = "\u200b\u200c\u200d\u2060\ufeff"


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(POLICY_FILE)


@pytest.fixture(scope="module")
def engine(policy: Policy) -> PolicyEngine:
    return PolicyEngine(policy)


def make_policy(categories: dict[str, dict[str, Any]], **top: Any) -> Policy:
    return Policy.model_validate(
        {
            "version": "test-1",
            "block_message": "withheld",
            "redaction_placeholder": "[X]",
            **top,
            "categories": categories,
        }
    )


class StubLayer:
    """A classifier-like layer: fixed hits, and a record of whether it ran."""

    name = "stub"

    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits
        self.calls = 0

    def detect(self, text: NormalizedText, context: DetectContext) -> list[Hit]:
        self.calls += 1
        return self.hits


# --- the policy file ---------------------------------------------------------------------------------


# Reported by model layers only (guard model, screener outages); no rule detectors of their own.
MODEL_ONLY_CATEGORIES = {"political", "copyright", "jailbreak", "other", "guard_unavailable", "screen_unavailable"}


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
