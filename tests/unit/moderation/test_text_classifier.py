"""The shipped zh+en text classifier: features, the plain-array artifact, the layer and its cost.

Loads the committed artifact (no training in CI); quality floors live in test_moderation_eval_floor.py.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from devtools.train_text_classifier import tfidf_matrix
from pipelines.moderation.policy.config import Policy
from pipelines.moderation.policy.engine import PolicyEngine
from pipelines.moderation.text.classifier.features import FeatureSettings, grams, normalise
from pipelines.moderation.text.classifier.layer import DEFAULT_CATEGORIES, ClassifierConfig, ClassifierLayer
from pipelines.moderation.text.classifier.model import (
    DEFAULT_ARTIFACT,
    MANIFEST_FILE,
    MODEL_FILE,
    ArtifactError,
    TextClassifier,
    load_arrays,
)
from pipelines.moderation.text.detectors import DetectContext
from pipelines.moderation.text.normalize import NormalizedText
from tests.unit.shipped import shipped_policy

MAX_ARTIFACT_BYTES = 25_000_000


@pytest.fixture(scope="module")
def layer() -> ClassifierLayer:
    """Every category of the model (the shipped config reports only some: see ``DEFAULT_CATEGORIES``)."""
    return ClassifierLayer(ClassifierConfig(categories=None))


@pytest.fixture(scope="module")
def policy() -> Policy:
    return shipped_policy()


def _top(layer: ClassifierLayer, text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for hit in layer.detect(NormalizedText.of(text), DetectContext("input")):
        out[hit.category] = max(out.get(hit.category, 0.0), hit.score)
    return out


# --- features ----------------------------------------------------------------------------------------


def test_normalise_folds_width_case_script_digits_and_markers() -> None:
    assert normalise("ＷｅＣｈａｔ") == "wechat"
    assert normalise("這個傻逼，滾出去") == "这个傻逼,滚出去"  # NFKC: the full-width comma is ASCII
    assert normalise("call 415 555 0132 or 13812345678") == "call 000 000 0000 or 00000000000"
    assert normalise("mail jane.doe@example.com or see https://t.co/xyz @bob") == "mail emailx or see urlx mentionx"
    assert normalise("RT @someone: sooooo gooood!!!!!!") == "mentionx : sooo goood!!!"
    assert normalise("a\u200bb\n\nc") == "ab c"
    text = "Ｈｅｌｌｏ　世界 2026!!!!"
    assert normalise(normalise(text)) == normalise(text)


def test_grams_have_characters_words_and_bigrams() -> None:
    settings = FeatureSettings()
    out = grams("You idiot", settings)
    assert "w:you" in out and "w:idiot" in out and "b:you idiot" in out
    assert " you" in out and "idio" in out and "y" in out
    assert all(len(g) <= settings.char_max for g in out if not g.startswith(("w:", "b:")))
    assert grams("", settings) == [] and grams("   ", settings) == []
    assert grams("滚出去", settings).count("滚") == 1


def test_grams_are_bounded_on_huge_input() -> None:
    settings = FeatureSettings()
    started = time.perf_counter()
    out = grams("a" * 1_000_000, settings)
    assert time.perf_counter() - started < 1.0
    assert len(out) < 5 * settings.max_chars  # featurised text is cut at max_chars


# --- artifact ----------------------------------------------------------------------------------------


def test_shipped_artifact_is_small_plain_arrays_with_a_complete_manifest() -> None:
    size = sum(p.stat().st_size for p in DEFAULT_ARTIFACT.iterdir() if p.is_file())
    assert size <= MAX_ARTIFACT_BYTES
    with np.load(DEFAULT_ARTIFACT / MODEL_FILE, allow_pickle=False) as data:  # raises on any object array
        assert sorted(data.files) == ["bias", "idf", "vocab", "weights"]
    manifest = json.loads((DEFAULT_ARTIFACT / MANIFEST_FILE).read_text(encoding="utf-8"))
    for key in ("format_version", "categories", "thresholds", "features", "sources", "validation_metrics"):
        assert key in manifest, key
    assert manifest["training"]["wall_time_s"] > 0
    assert all(source.get("sha256") and source["rows"] > 0 for source in manifest["sources"])
    assert set(manifest["thresholds"]) == set(manifest["categories"])
    assert all(0 < t < 1 for t in manifest["thresholds"].values())


def test_tampered_or_missing_artifact_fails_loudly(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(DEFAULT_ARTIFACT, copy)
    with (copy / MODEL_FILE).open("r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ArtifactError, match="SHA-256"):
        TextClassifier(copy)
    (copy / MANIFEST_FILE).unlink()
    with pytest.raises(ArtifactError, match="manifest"):
        TextClassifier(copy)


def test_inference_matches_the_training_arithmetic(layer: ClassifierLayer) -> None:
    """The scorer's TF-IDF and the trainer's are the same numbers (one featuriser, one formula)."""
    model = layer.model
    arrays = load_arrays(DEFAULT_ARTIFACT / MODEL_FILE)
    texts = ["你这个傻逼，滚出去", "Is this jacket waterproof?", "add me on whatsapp for cheap watches", "", "😀"]
    x = tfidf_matrix([grams(t, model.settings) for t in texts], model.index, arrays.idf)
    expected = x @ arrays.weights + arrays.bias
    got = np.stack([model.logits(model.feature_ids(t)) for t in texts])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


# --- the layer ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("你这个傻逼，滚出去", "hate/harassment"),
        ("Shut up, you disgusting worthless idiot.", "hate/harassment"),
        ("I'm going to kill myself tonight, nobody would miss me.", "self-harm"),
        ("加微信领红包，私聊发货", "spam"),
        ("出售冰毒，同城配送", "illegal"),
    ],
)
def test_clear_positives_score_above_the_operating_point(layer: ClassifierLayer, text: str, category: str) -> None:
    assert _top(layer, text).get(category, 0.0) >= 0.5


@pytest.mark.parametrize(
    "text",
    ["Fuck, that was tough.", "Is this jacket waterproof?", "请问这件外套有黑色的吗？", "How do I bake bread?"],
)
def test_clear_negatives_stay_below_every_operating_point(layer: ClassifierLayer, text: str) -> None:
    assert max(_top(layer, text).values(), default=0.0) < 0.5


def test_one_abusive_sentence_in_a_long_answer_is_found_with_its_span() -> None:
    layer = ClassifierLayer(ClassifierConfig(sentence_margin=0.0))
    benign = "The jacket is made of recycled polyester and has two zipped pockets. " * 12
    insult = "You are a worthless stupid idiot and everyone hates you."
    text = benign + insult + " " + benign
    hits = [h for h in layer.detect(NormalizedText.of(text), DetectContext()) if h.score >= 0.5]
    assert hits and all(h.category == "hate/harassment" for h in hits)
    start = text.index(insult)
    assert any(h.start <= start and start + len(insult) <= h.end < len(text) for h in hits)
    assert any(h.start == start and h.end == start + len(insult) for h in hits)  # the sentence alone


def test_windows_merge_short_sentences_and_cap_their_number() -> None:
    config = ClassifierConfig(window_chars=40, max_windows=3, max_sentences=6, sentence_margin=0.0)
    layer = ClassifierLayer(config)
    text = "One. Two. Three. " + "A longer sentence that fills a window. " * 5
    end = len(text.rstrip())
    # six sentence spans (the sixth holds the rest), four windows of them, the last two merged (max_windows)
    assert layer.windows(text) == [[(0, 4), (5, 9), (10, 16)], [(17, 55)], [(56, 94), (95, end)]]
    spans = [(s, e) for s, e, _ in layer.window_scores(text)]
    # every window, and the sentences of each multi-sentence window alone
    assert spans == [(0, 16), (0, 4), (5, 9), (10, 16), (17, 55), (56, end), (56, 94), (95, end)]
    windows_only = ClassifierLayer(config.model_copy(update={"sentences_alone": False}))
    assert [(s, e) for s, e, _ in windows_only.window_scores(text)] == [(0, 16), (17, 55), (56, end)]


def test_a_sentence_alone_must_clear_its_margin() -> None:
    """A sentence scored alone is ``margin`` logits stricter than a window; the window's own score is not."""
    text = "The jacket is navy blue. You are a worthless idiot."
    plain = ClassifierLayer(ClassifierConfig(sentence_margin=0.0))
    strict = ClassifierLayer(ClassifierConfig(sentence_margin=2.0))
    j = plain.model.categories.index("hate/harassment")
    (w0, *s0), (w2, *s2) = plain.window_scores(text), strict.window_scores(text)
    assert w0[2][j] == pytest.approx(w2[2][j])
    for (_, _, a), (_, _, b) in zip(s0, s2, strict=True):
        z0, z2 = np.log(a[j] / (1 - a[j])), np.log(b[j] / (1 - b[j]))
        assert z0 - z2 == pytest.approx(2.0, abs=1e-3)


@pytest.mark.parametrize(
    "text",
    [
        "Can you help me reset my password?",
        "u should try the new cafe downtown, its great",
        "Thank you so much, you made my day!",
        "Are y'all coming to the barbecue on Saturday?",
    ],
)
def test_addressing_the_reader_is_not_harassment(layer: ClassifierLayer, text: str) -> None:
    """The trainer once labelled tweets by their pronouns, and "you"/"u" became the strongest hate features."""
    assert _top(layer, text).get("hate/harassment", 0.0) < 0.5


def test_operating_points_and_category_map(layer: ClassifierLayer) -> None:
    text = "Shut up, you disgusting worthless idiot."
    base = _top(layer, text)["hate/harassment"]
    strict = ClassifierLayer(ClassifierConfig(operating_points={"hate/harassment": 0.999}))
    assert _top(strict, text).get("hate/harassment", 0.0) < base
    renamed = ClassifierLayer(ClassifierConfig(category_map={"hate/harassment": "custom"}))
    assert "custom" in _top(renamed, text) and "hate/harassment" not in _top(renamed, text)
    with pytest.raises(ValueError, match="lacks"):
        ClassifierLayer(ClassifierConfig(operating_points={"nonsense": 0.5}))
    with pytest.raises(ValueError, match="between 0 and 1"):
        ClassifierConfig(operating_points={"spam": 1.0})


def test_hits_below_the_floor_are_not_reported(layer: ClassifierLayer) -> None:
    hits = layer.detect(NormalizedText.of("Is this jacket waterproof?"), DetectContext())
    assert all(h.score >= layer.config.report_floor for h in hits)


def test_layer_decides_through_the_policy(layer: ClassifierLayer, policy: Policy) -> None:
    engine = PolicyEngine(policy, [layer])
    decision = engine.check("你这个傻逼，滚出去", "output")
    assert decision.blocked and "hate/harassment" in decision.fired
    assert engine.check("这件外套有黑色的吗？", "output").action == "allow"


def test_cost_is_bounded_on_adversarial_input(layer: ClassifierLayer) -> None:
    """32,000 characters of each adversarial shape: windows and features are capped, cost is linear."""
    for text in ("a" * 32_000, "tg " * 10_700, "1" * 32_000, "加微信 " * 8_000, "a. " * 10_700, "a\n" * 16_000):
        started = time.perf_counter()
        layer.detect(NormalizedText.of(text), DetectContext())
        assert time.perf_counter() - started < 1.5, text[:10]


# --- the trainer ---------------------------------------------------------------------------------------


def test_training_never_sees_an_evaluation_text() -> None:
    """A synthetic template can write a plain case word for word (it did: "Fuck, that was tough.")."""
    from devtools.moderation_data import Example
    from devtools.train_text_classifier import drop_evaluation_texts
    from evals.plain_cases import PLAIN_CASES

    case = PLAIN_CASES[0].text
    rows = [Example(t, "en", frozenset(), "synthetic", "g") for t in (case, f" {case.upper()} ", "a new text")]
    assert [e.text for e in drop_evaluation_texts(rows)] == ["a new text"]


def test_sentence_margin_is_chosen_on_composites() -> None:
    from devtools.train_text_classifier import choose_sentence_margin

    # four composites of two parts; the window catches nothing, a part alone catches both positives at a
    # margin of 1, and at 0 it also fires on a benign composite
    parts = [[0, 1], [2, 3], [4, 5], [6, 7]]
    y = np.array([True, True, False, False])
    window_z = np.full((4, 2), -1.0)
    part_z = np.array([1.5, -3, 1.2, -3, 0.5, -3, -3, -3])
    margin, report = choose_sentence_margin(parts, y, window_z, part_z, [0.0, 1.0, 2.0], max_fpr=1.0)
    assert margin == 1.0 and report["windows only"]["recall"] == 0.0
    assert report["margin 0.0"]["fpr"] == 0.5
    # F1 is the same at margins 0 and 1 with one benign composite flagged; a budget under 0.5 rules out 0
    margin, _ = choose_sentence_margin(parts, y, window_z, np.array([1.5, -3, 0.5, -3, 0.5, -3, -3, -3]), [0.0], 0.4)
    assert margin is None
    # nothing to gain from sentences: windows only
    window_z = np.array([[1.0, -1], [1, -1], [-1, -1], [-1, -1]])
    margin, _ = choose_sentence_margin(parts, y, window_z, part_z, [0.0], max_fpr=1.0)
    assert margin is None


def test_the_generator_still_writes_the_texts_the_shipped_artifact_was_trained_on() -> None:
    """The validation split is rebuilt from the manifest's recipe: the synthetic texts must be the same."""
    from devtools.synthetic_moderation import generate
    from devtools.synthetic_moderation.provenance import NAME, recorded_texts_sha256, texts_sha256

    manifest = json.loads((DEFAULT_ARTIFACT / MANIFEST_FILE).read_text(encoding="utf-8"))
    config = manifest["training"]["config"]
    entry = next(s for s in manifest["sources"] if s["file"] == NAME)
    expected = recorded_texts_sha256(entry, config["seed"], config["synthetic_scale"])
    assert expected == texts_sha256(generate(config["seed"], config["synthetic_scale"]))
    assert recorded_texts_sha256({"sha256": "an unknown generator"}, config["seed"], 1.0) is None
    assert recorded_texts_sha256({"texts_sha256": "abc"}, 0, 1.0) == "abc"


def test_the_shipped_config_reports_only_the_default_categories() -> None:
    shipped = ClassifierLayer(ClassifierConfig())
    text = "出售冰毒，同城配送。你这个傻逼，滚出去"
    fired = {h.category for h in shipped.detect(NormalizedText.of(text), DetectContext("input")) if h.score >= 0.5}
    assert fired == {"hate/harassment"}  # `illegal` is left to the rule layers
    assert set(DEFAULT_CATEGORIES) <= set(shipped.model.categories)
    with pytest.raises(ValueError, match="categories the classifier lacks"):
        ClassifierLayer(ClassifierConfig(categories=["no-such-category"]))
