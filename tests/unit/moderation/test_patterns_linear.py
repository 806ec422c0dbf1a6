"""Linear-time matching: every shipped pattern and the whole rule layer on 32,000-character adversarial
texts, the RE2 rules customer patterns must follow, and the per-text budgets (pipelines/moderation/text/
detectors.py, policy ``scan``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic
import pytest

from pipelines.moderation.policy.config import Policy, load_policy
from pipelines.moderation.policy.engine import PolicyEngine
from pipelines.moderation.text.detectors import DetectContext, PatternDetector, TermDetector
from pipelines.moderation.text.normalize import NormalizedText
from tests.unit.adversarial import COMMON_ADVERSARIAL, cpu_seconds

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = load_policy(ROOT / "configs" / "policy.yaml")
N = 32_000
BUDGET_S = 0.05  # the bound, per pattern and for the rule layer, in CPU seconds of one core
RLO = "\u202e"

ADVERSARIAL: dict[str, Callable[[int], str]] = {
    **COMMON_ADVERSARIAL,
    "spaced digits": lambda n: ("1 " * n)[:n],
    "mixed": lambda n: ("a1 中-@." * n)[:n],
    "separators": lambda n: ("-_. :" * n)[:n],
    "near e-mail": lambda n: ("a@" * n)[:n],
    "near e-mail 2": lambda n: ("a.a@a." * n)[:n],
    "near handle": lambda n: ("wechat: " * n)[:n],
    "near handle 2": lambda n: ("qq群号是 " * n)[:n],
    "near phone": lambda n: ("138 0013 800 " * n)[:n],
    "near intl": lambda n: ("+1 (4" * n)[:n],
    "near card": lambda n: ("4111 1111 1111 111 " * n)[:n],
    "near id": lambda n: ("11010519491231002 " * n)[:n],
    "near url": lambda n: ("bit.ly/" * n)[:n],
    "near price": lambda n: ("only $9.99! " * n)[:n],
    "near drug": lambda n: ("buy some " * n)[:n],
    "near zh buy": lambda n: ("买买买，" * n)[:n],
    "phones": lambda n: ("13800138000 " * n)[:n],
    "e-mails": lambda n: ("a@b.co " * n)[:n],
    "intl phones": lambda n: ("+1 415 555 0132 " * n)[:n],
    "cards": lambda n: ("4111 1111 1111 1111 " * n)[:n],
    "ids": lambda n: ("11010519491231002X," * n)[:n],
    "terms": lambda n: ("加微信" * n)[:n],
    "leet terms": lambda n: ("p0rn " * n)[:n],
    "overrides": lambda n: (f"{RLO}tahcew dda " * n)[:n],
}


def single_pattern_policy(category: str, spec: Any) -> Policy:
    data = {"version": "t", "block_message": "x", "categories": {category: {"patterns": [spec.model_dump()]}}}
    return Policy.model_validate(data)


SHIPPED_PATTERNS = [
    (category, i, spec) for category, cat in SHIPPED.categories.items() for i, spec in enumerate(cat.patterns)
]


@pytest.fixture(scope="module")
def adversarial() -> dict[str, NormalizedText]:
    return {name: NormalizedText.of(make(N)) for name, make in ADVERSARIAL.items()}


def test_every_shipped_pattern_is_covered() -> None:
    assert len(SHIPPED_PATTERNS) >= 25


@pytest.mark.parametrize(("category", "index", "spec"), SHIPPED_PATTERNS, ids=lambda v: str(v)[:12])
def test_each_shipped_pattern_is_linear_on_adversarial_text(
    adversarial: dict[str, NormalizedText], category: str, index: int, spec: Any
) -> None:
    detector = PatternDetector(single_pattern_policy(category, spec))
    slow = {}
    for name, text in adversarial.items():
        seconds = cpu_seconds(lambda text=text: detector.detect(text, DetectContext()))
        if seconds >= BUDGET_S:
            slow[name] = round(seconds * 1000, 1)
    assert slow == {}, f"{category}[{index}] {spec.regex!r}: ms {slow}"


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_the_whole_rule_layer_is_linear_on_adversarial_text(adversarial: dict[str, NormalizedText], name: str) -> None:
    terms, patterns = TermDetector(SHIPPED), PatternDetector(SHIPPED)
    text = adversarial[name]
    seconds = cpu_seconds(lambda: (terms.detect(text, DetectContext()), patterns.detect(text, DetectContext())))
    assert seconds < BUDGET_S, f"{name}: {seconds * 1000:.1f} ms"


def test_the_engine_stays_linear_from_8k_to_32k() -> None:
    engine = PolicyEngine(SHIPPED)
    for name in ("mixed", "phones", "leet terms", "near handle"):
        make = ADVERSARIAL[name]
        small, large = make(8_000), make(32_000)
        engine.detect(small)
        t_small, t_large = cpu_seconds(lambda s=small: engine.detect(s)), cpu_seconds(lambda s=large: engine.detect(s))
        assert t_large < 8 * t_small + 0.005, f"{name}: 8k {t_small * 1000:.1f} ms, 32k {t_large * 1000:.1f} ms"


# --- what RE2 refuses ----------------------------------------------------------------------------


def make_policy(patterns: list[Any], **scan: Any) -> Policy:
    pii = {"patterns": patterns, "output": "redact"}
    data: dict[str, Any] = {"version": "t", "block_message": "x", "categories": {"pii": pii}}
    if scan:
        data["scan"] = scan
    return Policy.model_validate(data)


@pytest.mark.parametrize(
    ("regex", "message"),
    [
        (r"(?<![0-9])\d{11}", "cannot be compiled by RE2"),  # lookbehind
        (r"\d+(?=px)", "cannot be compiled by RE2"),  # lookahead
        (r"(a)\1", "cannot be compiled by RE2"),  # backreference
        (r"a++", "cannot be compiled by RE2"),  # possessive
        (r"(unclosed", "cannot be compiled by RE2"),
        (r"a*", "matches the empty string"),
        (r"\b", "matches an empty string inside"),
        (r"(?:x|)", "matches the empty string"),
        (r"^", "matches the empty string"),
        (r"(?:^|\n)", "matches the empty string"),
        (r"x*\b", "matches an empty string inside"),
    ],
)
def test_patterns_re2_cannot_run_fail_the_load(regex: str, message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        make_policy([regex])


def test_a_group_must_exist() -> None:
    with pytest.raises(pydantic.ValidationError, match="has 1 capture groups"):
        make_policy([{"regex": "(a)b", "group": 2}])


def test_a_pattern_too_big_for_its_memory_budget_fails_the_load() -> None:
    huge = "(?:" + "|".join(f"word{i}[a-z]{{1,50}}" for i in range(3000)) + ")"
    with pytest.raises(pydantic.ValidationError, match="RE2"):
        make_policy([huge], regex_max_mem=1 << 20)


def test_a_customer_pattern_runs_on_re2(tmp_path: Path) -> None:
    """The shipped policy file with a customer's own pattern: Python-only syntax is refused at load."""
    text = (ROOT / "configs" / "policy.yaml").read_text(encoding="utf-8")
    custom = text.replace("    terms: []\n", "    terms: []\n    patterns: ['(?P<code>ACME-[0-9]{4})(?!x)']\n", 1)
    assert custom != text
    (tmp_path / "policy.yaml").write_text(custom, encoding="utf-8")
    (tmp_path / "lexicons").symlink_to(ROOT / "configs" / "lexicons")
    with pytest.raises(pydantic.ValidationError, match=r"categories\.custom\.patterns\.0\.regex"):
        load_policy(tmp_path / "policy.yaml")
    (tmp_path / "policy.yaml").write_text(custom.replace("(?!x)", "\\b"), encoding="utf-8")
    engine = PolicyEngine(load_policy(tmp_path / "policy.yaml"))
    assert engine.check("order ACME-1234 shipped", "input").fired == ["custom"]


# --- budgets --------------------------------------------------------------------------------------


def test_past_the_hit_budget_the_rest_is_one_span() -> None:
    engine = PolicyEngine(make_policy([r"\b[a-z]@[a-z]\.co\b"], max_hits=3))
    text = "a@b.co c@d.co e@f.co g@h.co tail i@j.co"
    decision = engine.check(text, "output")
    spans = [text[s:e] for s, e, _ in decision.categories["pii"].spans]
    assert spans[:3] == ["a@b.co", "c@d.co", "e@f.co"] and spans[3] == "g@h.co tail i@j.co"
    assert decision.text == "[REDACTED] [REDACTED] [REDACTED] [REDACTED]"


def test_past_the_term_budget_the_rest_is_one_span_per_category() -> None:
    data = {
        "version": "t",
        "block_message": "x",
        "scan": {"max_hits": 2},
        "categories": {"spam": {"terms": ["加微信"]}, "sexual": {"terms": ["约炮"]}},
    }
    engine = PolicyEngine(Policy.model_validate(data))
    text = "加微信 加微信 加微信 ok 约炮"
    decision = engine.check(text, "input")
    assert set(decision.fired) == {"spam", "sexual"}  # a category hit only past the budget still fires
    assert [text[s:e] for s, e, _ in decision.categories["sexual"].spans] == ["加微信 ok 约炮"]


def test_past_the_phone_check_budget_candidates_count_unchecked() -> None:
    pattern = {"regex": r"\b0[1-9][0-9]{1,2}-[0-9]{7,8}\b", "validator": "phone_cn"}
    text = "0123-1234567 010-62345678"  # the first is no number in China's plan, the second is
    assert [s for s, _, _ in PolicyEngine(make_policy([pattern])).check(text, "input").categories["pii"].spans] == [13]
    unchecked = PolicyEngine(make_policy([pattern], max_phone_checks=0)).check(text, "input")
    assert len(unchecked.categories["pii"].spans) == 2


def test_a_text_past_the_scan_budget_is_flagged_for_what_was_not_scanned() -> None:
    data = {
        "version": "t",
        "block_message": "x",
        "scan": {"max_chars": 10, "overflow_category": "screen_unavailable"},
        "categories": {"spam": {"terms": ["加微信"]}, "screen_unavailable": {}},
    }
    engine = PolicyEngine(Policy.model_validate(data))
    assert engine.check("加微信", "input").fired == ["spam"]
    decision = engine.check("x" * 20 + "加微信", "input")
    assert decision.fired == ["screen_unavailable"]  # the term lies past the budget: not scanned, but said so
    with pytest.raises(pydantic.ValidationError, match="overflow_category"):
        Policy.model_validate({**data, "categories": {"spam": {}}})


def test_a_pattern_resumes_after_its_group() -> None:
    """Context a pattern consumes (the leading non-digit) is not lost to the next match: two IDs
    separated by one comma are both found."""
    text = "11010519491231002X,11010519491231002X"
    spans = PolicyEngine(SHIPPED).check(text, "output").categories["pii"].spans
    assert [(s, e) for s, e, _ in spans] == [(0, 18), (19, 37)]
