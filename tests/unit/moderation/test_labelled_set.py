"""The shipped policy on the labelled moderation set (evals/labelled/): composition, precision, recall,
and clean look-alikes that must stay clean."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from evals.labelled import (
    CLEAN_KINDS,
    POSITIVE_KINDS,
    RULE_CATEGORIES,
    LabelledText,
    Scores,
    card_number,
    labelled_set,
    non_luhn_number,
    precision_recall,
    resident_id,
    wrong_check_resident_id,
)
from pipelines.moderation.policy.config import Direction
from pipelines.moderation.policy.engine import PolicyEngine
from pipelines.moderation.text.checksums import cn_resident_id_valid, luhn_valid
from pipelines.moderation.text.layers import LayersConfig, build_text_layers
from tests.unit.shipped import rules_engine

MIN_POSITIVES_PER_LANGUAGE = 10

# Recall floors are regression guards, not targets: each sits a few items below what the shipped policy
# (terms + patterns + the profanity classifier) measured on this set when it was written (measured in
# the comment). A drop below a floor means a change lost detections; a rise is welcome (raise the floor
# then). The set deliberately contains paraphrases and evasions the rule layers cannot catch, so
# recall far below 1.0 is expected and honest.
RECALL_FLOORS = {
    "sexual": 0.50,  # measured 0.558 (43/77): paraphrases and sexual/minors texts without a sexual term miss
    "sexual/minors": 0.55,  # measured 0.613 (19/31)
    "violence": 0.50,  # measured 0.545 (24/44)
    "hate/harassment": 0.40,  # measured 0.446 (25/56): the two terms + the English-only profanity classifier
    "self-harm": 0.50,  # measured 0.541 (20/37)
    "illegal": 0.50,  # measured 0.564 (22/39)
    "spam": 0.65,  # measured 0.708 (34/48)
    "pii": 0.72,  # measured 0.780 (32/41)
}
PRECISION_FLOOR = 0.9
# Exception, measured 0.758 (25/33): the profanity classifier (alt-profanity-check) scores offensive
# *wording*, so it also fires hate/harassment on sexual requests ("naked women"), self-harm ("kill myself"),
# a school-shooting threat and "to die for". A known weakness of the shipped layer, guarded here so it
# does not get worse; the rule layers alone are at 1.0 (test below).
PRECISION_FLOORS = {**dict.fromkeys(RULE_CATEGORIES, PRECISION_FLOOR), "hate/harassment": 0.70}

# Clean texts the shipped engine is known to flag, pinned so that a new false alarm fails the test and a
# fixed one is noticed. The rule layers flag no clean text. "This cake is to die for." (the old profanity
# classifier) is fixed; the shipped text classifier scores "nude" in a cosmetics colour 0.52, just past its
# sexual operating point.
KNOWN_CLEAN_FALSE_ALARMS: dict[str, set[str]] = {
    "The nude colour lipstick sold out in an hour.": {"sexual"},
}


@pytest.fixture(scope="module")
def items() -> list[LabelledText]:
    return labelled_set()


@pytest.fixture(scope="module")
def measured(items: list[LabelledText]) -> list[LabelledText]:
    """What precision is gated on: everything but ``benign_hard``, whose texts were written to contain
    the policy's literal terms innocently, so their share of the set (and of any precision on it) is arbitrary."""
    return [item for item in items if item.kind != "benign_hard"]


@pytest.fixture(scope="module")
def rules() -> PolicyEngine:
    return rules_engine()


@pytest.fixture(scope="module")
def shipped(rules: PolicyEngine) -> PolicyEngine:
    return PolicyEngine(rules.policy, build_text_layers(LayersConfig()))


@pytest.fixture(scope="module")
def shipped_scores(shipped: PolicyEngine, measured: list[LabelledText]) -> dict[str, Scores]:
    return precision_recall(shipped, measured, "input")


# --- the set -----------------------------------------------------------------------------------------


def test_set_is_deterministic_and_sized(items: list[LabelledText]) -> None:
    assert labelled_set() == items
    assert 300 <= len(items) <= 500
    assert {item.language for item in items} == {"en", "zh"}
    for item in items:
        assert item.categories <= set(RULE_CATEGORIES), item
        assert bool(item.categories) == (item.kind in POSITIVE_KINDS), item
        if "sexual/minors" in item.categories:
            assert "sexual" in item.categories, item  # the labelling guide: minors content is sexual content


@pytest.mark.parametrize("category", RULE_CATEGORIES)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_category_has_positives_and_evasions_per_language(
    items: list[LabelledText], category: str, language: str
) -> None:
    kinds = Counter(item.kind for item in items if category in item.categories and item.language == language)
    assert sum(kinds.values()) >= MIN_POSITIVES_PER_LANGUAGE, kinds
    assert kinds["plain"] and kinds["paraphrase"] and kinds["evasion"], kinds


def test_clean_texts_cover_both_languages_and_the_look_alikes(items: list[LabelledText]) -> None:
    clean = Counter((item.kind, item.language) for item in items if item.kind in CLEAN_KINDS)
    for kind in CLEAN_KINDS:
        for language in ("en", "zh"):
            assert clean[kind, language] >= 10, clean
    texts = " ".join(item.text for item in items if item.kind == "benign_lookalike")
    for probe in ["sex education", "kitchen knife", "Killer deal", "class", "assassin", "性教育", "菜刀", "新闻"]:
        assert probe in texts, probe
    for item in items:
        if item.kind in CLEAN_KINDS:
            assert item.must_not_fire == frozenset(RULE_CATEGORIES), item


def test_synthetic_identifiers_pass_or_fail_their_checksums_as_claimed() -> None:
    rng = random.Random(7)
    for _ in range(50):
        assert luhn_valid(card_number(rng, "4", 16)) and luhn_valid(card_number(rng, "622202", 19))
        assert not luhn_valid(non_luhn_number(rng, "4", 16))
        assert cn_resident_id_valid(resident_id(rng))
        wrong = wrong_check_resident_id(rng)
        assert len(wrong) == 18 and not cn_resident_id_valid(wrong) and not luhn_valid(wrong)


# --- the shipped policy on it ----------------------------------------------------------------------------


@pytest.mark.parametrize("category", RULE_CATEGORIES)
def test_shipped_precision(shipped_scores: dict[str, Scores], category: str) -> None:
    precision, _, tp, fp, _ = shipped_scores[category]
    assert precision >= PRECISION_FLOORS[category], f"{category}: precision {precision:.3f} (tp={tp}, fp={fp})"


@pytest.mark.parametrize("category", RULE_CATEGORIES)
def test_shipped_recall_floor(shipped_scores: dict[str, Scores], category: str) -> None:
    _, recall, tp, _, fn = shipped_scores[category]
    assert recall >= RECALL_FLOORS[category], f"{category}: recall {recall:.3f} (tp={tp}, fn={fn})"


def test_rule_layers_alone_are_precise(rules: PolicyEngine, measured: list[LabelledText]) -> None:
    for category, (precision, _, tp, fp, _) in precision_recall(rules, measured, "input").items():
        assert precision >= PRECISION_FLOOR, f"{category}: precision {precision:.3f} (tp={tp}, fp={fp})"


@pytest.mark.parametrize("direction", ["input", "output"])
def test_rule_layers_fire_nothing_on_clean_texts(
    rules: PolicyEngine, items: list[LabelledText], direction: Direction
) -> None:
    offending = {
        item.text: fired
        for item in items
        if item.kind in CLEAN_KINDS and (fired := set(rules.check(item.text, direction).fired) & item.must_not_fire)
    }
    assert offending == {}


def test_shipped_engine_flags_only_the_known_clean_false_alarms(
    shipped: PolicyEngine, items: list[LabelledText]
) -> None:
    offending = {
        item.text: fired
        for item in items
        if item.kind in CLEAN_KINDS and (fired := set(shipped.check(item.text, "input").fired) & item.must_not_fire)
    }
    assert offending == KNOWN_CLEAN_FALSE_ALARMS
