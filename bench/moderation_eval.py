"""Quality and cost of the content policy's text layers, in one command.

Run: ``.venv/bin/python -m bench.moderation_eval [--guard-dir DIR] [--skip-validation]``

Prints, for the shipped policy (``configs/policy.yaml``) and the shipped layers (``LayersConfig()``:
terms + patterns + the zh+en classifier; "all CPU layers"), direction ``input`` unless said otherwise.
Binary metrics are "flagged by any category" against "has any label"; FPR is over the negatives.

(a) the labelled set of ``evals/labelled/``: P / R / F1 / FPR per category and overall;
(b) the public OpenAI moderation test set (``../shared/datasets/openai-moderation``): binary P / R / F1 /
    FPR / AUPRC, and per category where a policy category maps onto its labels. Nothing is tuned on it;
(c) the classifier's validation split, rebuilt from the manifest's training recipe (COLD dev, held-out
    rows of every other training file, held-out rows of seen synthetic families, and whole synthetic
    families never trained on): per category (classifier alone) and binary through all CPU layers;
(d) the hand-written plain cases of ``evals/plain_cases.py`` (never trained on; development sets the
    rules were written against): binary recall / FPR, per-category recall, every miss and false alarm;
    (d2) the same for the held-out blind set ``evals/plain_cases_blind.py``, without listing its cases;
(e) the cheap-first cascade: the fraction of the OpenAI set the guard model would be asked about with
    the shipped band (counted by the real GuardLayer on the tiny random guard checkpoint);
(f) latency per text, one thread: p50 / p99 for short texts and 1-2 KB answers, rules alone, all CPU
    layers, and all CPU layers + the (tiny) guard behind the cascade;
(g) throughput (texts/s) of the rule layers alone.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import logging
import os
import platform
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.moderation_latency import guard_dir, latency_report, long_answers, throughput_report
from bench.report import COUNT_HEADERS, POLICY_FILE, ROOT, Counts, fired, section, table
from bench.report import shipped_engine as shipped_engine  # re-exported: the floor tests use it
from evals.labelled import RULE_CATEGORIES, LabelledText, labelled_set
from evals.plain_cases import PLAIN_CASES, PlainCase
from evals.plain_cases_blind import BLIND_CASES
from pipelines.moderation.policy.config import load_policy
from pipelines.moderation.policy.engine import PolicyEngine
from pipelines.moderation.text.classifier.layer import ClassifierConfig, ClassifierLayer
from pipelines.moderation.text.layers import (
    GuardLayer,
    GuardLayerConfig,
    LayersConfig,
    ProfanityConfig,
    build_text_layers,
)

DATASETS = ROOT.parent / "shared" / "datasets"
OPENAI_SET = DATASETS / "openai-moderation" / "samples-1680.jsonl.gz"
TRAIN_DATA = DATASETS / "moderation-train"
OPENAI_LABELS = ("S", "H", "V", "HR", "SH", "S3", "H2", "V2")
# OpenAI label -> the policy category that covers it (H2 hate/threatening and V2 graphic violence have
# no category of their own; they count towards "any label" only).
LABEL_CATEGORY = {
    "S": "sexual",
    "H": "hate/harassment",
    "HR": "hate/harassment",
    "V": "violence",
    "SH": "self-harm",
    "S3": "sexual/minors",
}
# Fixed before looking at results: the policy categories in the OpenAI taxonomy's scope (spam and PII are not).
HARM_CATEGORIES = ("sexual", "sexual/minors", "violence", "hate/harassment", "self-harm")
SEED = 20261125


# --- (a) the labelled set --------------------------------------------------------------------------


def labelled_report(engine: PolicyEngine, items: list[LabelledText]) -> None:
    section("(a) labelled set (evals/labelled/), all CPU layers")
    kinds: dict[str, int] = {}
    for item in items:
        kinds[f"{item.kind}/{item.language}"] = kinds.get(f"{item.kind}/{item.language}", 0) + 1
    print(f"size {len(items)}: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    got = fired(engine, [item.text for item in items])
    main = [(item, g) for item, g in zip(items, got, strict=True) if item.kind != "benign_hard"]
    print("without benign_hard (texts written to contain a policy term innocently; listed below)\n")
    rows = []
    for category in RULE_CATEGORIES:
        counts = Counts.of([category in i.categories for i, _ in main], [category in g for _, g in main])
        rows.append([category, *counts.row()])
    overall = Counts.of([bool(i.categories) for i, _ in main], [bool(g & set(RULE_CATEGORIES)) for _, g in main])
    rows.append(["any (binary)", *overall.row()])
    print(table(["category", *COUNT_HEADERS], rows))

    print("\nrecall by kind and language (hits/positives)\n")
    columns = [(kind, lang) for kind in ("plain", "paraphrase", "evasion") for lang in ("en", "zh")]
    rows = []
    for category in RULE_CATEGORIES:
        row: list[object] = [category]
        for kind, lang in columns:
            group = [
                g
                for item, g in zip(items, got, strict=True)
                if category in item.categories and item.kind == kind and item.language == lang
            ]
            row.append(f"{sum(category in g for g in group)}/{len(group)}")
        rows.append(row)
    print(table(["category", *[f"{k} {lang}" for k, lang in columns]], rows))
    hard = [(item, g) for item, g in zip(items, got, strict=True) if item.kind == "benign_hard"]
    print(f"\nbenign_hard flagged: {sum(bool(g) for _, g in hard)}/{len(hard)}")
    for item, g in hard:
        if g:
            print(f"  {','.join(sorted(g))}: {item.text}")
    clean = [(item, g) for item, g in zip(items, got, strict=True) if item.kind in ("benign", "benign_lookalike")]
    alarms = [(item, g) for item, g in clean if g]
    print(f"clean (benign + benign_lookalike) texts flagged: {len(alarms)}/{len(clean)}")
    for item, g in alarms:
        print(f"  {sorted(g)}: {item.text}")


# --- (b) the OpenAI moderation set ------------------------------------------------------------------


@dataclass(frozen=True)
class OpenAIRow:
    prompt: str
    labels: dict[str, int]

    @property
    def positive(self) -> bool:
        return any(v == 1 for v in self.labels.values())


def load_openai(path: Path) -> tuple[list[OpenAIRow], int]:
    rows, skipped = [], 0
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            data = json.loads(line)
            labels = {k: int(data[k]) for k in OPENAI_LABELS if data.get(k) is not None}
            if not labels:
                skipped += 1
                continue
            rows.append(OpenAIRow(data["prompt"], labels))
    return rows, skipped


def openai_report(engines: dict[str, PolicyEngine], rows: list[OpenAIRow], skipped: int) -> None:
    from sklearn.metrics import average_precision_score

    section("(b) OpenAI moderation test set (samples-1680), nothing tuned on it")
    truth = [row.positive for row in rows]
    print(f"rows {len(rows)} (skipped, all labels unknown: {skipped}), positive (any label 1): {sum(truth)}")
    print('prediction: any policy category fired ("harm only": one of ' + ", ".join(HARM_CATEGORIES) + ")")
    print("AUPRC score: the highest category score (rule hits score 1, the classifier its calibrated score)\n")
    summary, per_category = [], []
    for name, engine in engines.items():
        started = time.perf_counter()
        decisions = [engine.check(row.prompt, "input") for row in rows]
        elapsed = time.perf_counter() - started
        for scope, cats in (("any", None), ("harm only", HARM_CATEGORIES)):
            flagged, scores = [], []
            for decision in decisions:
                results = [r for c, r in decision.categories.items() if cats is None or c in cats]
                flagged.append(any(r.detected for r in results))
                scores.append(max((r.score for r in results), default=0.0))
            counts = Counts.of(truth, flagged)
            auprc = float(average_precision_score(truth, scores))
            summary.append([name, scope, counts.f1, counts.precision, counts.recall, counts.fpr, auprc])
        for category in sorted(set(LABEL_CATEGORY.values())):
            labels = [label for label, c in LABEL_CATEGORY.items() if c == category]
            known = [i for i, row in enumerate(rows) if any(label in row.labels for label in labels)]
            t = [any(rows[i].labels.get(label) == 1 for label in labels) for i in known]
            p = [decisions[i].categories[category].detected for i in known]
            per_category.append([name, category, "+".join(labels), *Counts.of(t, p).row()])
        print(f"{name}: {len(rows)} texts in {elapsed:.1f} s")
    print()
    print(table(["layers", "flagged by", "F1", "P", "R", "FPR", "AUPRC"], summary, left=2))
    print("\nper category (the category fired vs its labels; rows where those labels are known)\n")
    print(table(["layers", "category", "labels", *COUNT_HEADERS], per_category, left=3))
    print("\nfor reference (README): OpenAI moderation API F1 0.788, Llama Guard 2 F1 0.807, ShieldGemma 9B")
    print("F1 0.821 / AUPRC 0.907, bare alt-profanity-check F1 0.659 (threshold 0.3) / AUPRC 0.737")


# --- (c) the validation split ------------------------------------------------------------------------


def validation_report(engine: PolicyEngine, layer: ClassifierLayer, data: Path) -> None:
    from devtools.moderation_data import AMBIGUOUS, CATEGORIES
    from devtools.train_text_classifier import validation_examples

    section("(c) the classifier's validation split (held out of training; thresholds were chosen on it)")
    if not data.is_dir():
        print(f"not found: {data}")
        return
    examples = validation_examples(data, layer.model.manifest)
    print(f"{len(examples)} texts, rebuilt from the manifest's recipe\n")
    groups = {
        "cold_dev_zh": lambda e: e.source == "cold_dev_zh",
        "real_other": lambda e: e.source not in ("cold_dev_zh", "synthetic"),
        "synthetic_seen_family": lambda e: "seen_family" in e.tags,
        "synthetic_unseen_family": lambda e: "unseen_family" in e.tags,
    }
    started = time.perf_counter()
    best = [_window_max(layer, e.text) for e in examples]
    flagged = [bool(g) for g in fired(engine, [e.text for e in examples])]
    print(f"scored in {time.perf_counter() - started:.1f} s\n")
    rows = []
    for category in CATEGORIES:
        j = layer.model.categories.index(category)
        known = [i for i, e in enumerate(examples) if category not in e.unknown]
        counts = Counts.of([category in examples[i].positives for i in known], [best[i][j] >= 0.5 for i in known])
        rows.append([category, "classifier", *counts.row()])
    for group, member in [("all", lambda e: True), *groups.items()]:
        # ambiguous rows (targeted offensive tweets) are neither clean positives nor clean negatives
        idx = [i for i, e in enumerate(examples) if member(e) and AMBIGUOUS not in e.tags]
        counts = Counts.of([bool(examples[i].positives) for i in idx], [flagged[i] for i in idx])
        rows.append([f"any: {group}", "all CPU layers", *counts.row()])
    print(table(["category / subset", "layers", *COUNT_HEADERS], rows, left=2))


def _window_max(layer: ClassifierLayer, text: str) -> list[float]:
    windows = layer.window_scores(text)
    if not windows:
        return [0.0] * len(layer.model.categories)
    return [max(w[2][j] for w in windows) for j in range(len(layer.model.categories))]


# --- (d) plain cases --------------------------------------------------------------------------------


PLAIN_TITLE = "(d) hand-written plain cases (evals/plain_cases.py: development sets, never trained on), all CPU layers"


def plain_report(
    engine: PolicyEngine, cases: list[PlainCase], title: str = PLAIN_TITLE, *, list_cases: bool = True
) -> Counts:
    section(title)
    got = fired(engine, [c.text for c in cases])
    rows = []
    for lang in ("en", "zh", "all"):
        idx = [i for i, c in enumerate(cases) if lang in ("all", c.lang)]
        counts = Counts.of([cases[i].positive for i in idx], [bool(got[i]) for i in idx])
        rows.append([lang, len(idx), *counts.row()])
    print(table(["lang", "n", *COUNT_HEADERS], rows))
    print("\nper-category recall (the expected category fired)\n")
    rows = []
    for category in RULE_CATEGORIES:
        positives = [i for i, c in enumerate(cases) if category in c.categories]
        if positives:
            rows.append([category, f"{sum(category in got[i] for i in positives)}/{len(positives)}"])
    print(table(["category", "hits"], rows))
    if not list_cases:
        print("\n(misses and false alarms not listed: reading them would make this set a development set)")
        return Counts.of([c.positive for c in cases], [bool(g) for g in got])
    print("\nmisses and false alarms\n")
    for case, g in zip(cases, got, strict=True):
        if case.positive and not g:
            print(f"  MISS  {sorted(case.categories)}: {case.text}")
        elif not case.positive and g:
            print(f"  ALARM {sorted(g)}: {case.text}")
    return Counts.of([c.positive for c in cases], [bool(g) for g in got])


# --- (e) the cascade --------------------------------------------------------------------------------


def cascade_report(engine: PolicyEngine, guard: GuardLayer, rows: list[OpenAIRow]) -> None:
    band = guard.config.cascade
    section(
        "(e) cheap-first cascade on the OpenAI set: the guard is asked when the classifier's top score is in "
        f"[{band.low}, {band.high})"
    )
    guard.asked = guard.skipped = 0
    guarded = PolicyEngine(engine.policy, [*engine.extra_layers, guard])
    started = time.perf_counter()
    for row in rows:
        guarded.detect(row.prompt, "input")
    blocked_first = len(rows) - guard.asked - guard.skipped
    print(
        f"texts {len(rows)}: guard asked {guard.asked} ({guard.asked / len(rows):.1%}), decided by the CPU layers "
        f"{guard.skipped} (outside the band) + {blocked_first} (already blocked by a cheaper layer); "
        f"{time.perf_counter() - started:.1f} s with the tiny guard"
    )


# --- main ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guard-dir", type=Path, help="a guard checkpoint directory (default: build the tiny one)")
    parser.add_argument("--guard-texts", type=int, default=120, help="short texts timed through the guard layer")
    parser.add_argument("--openai-set", type=Path, default=OPENAI_SET)
    parser.add_argument("--train-data", type=Path, default=TRAIN_DATA, help="for the validation split (c)")
    parser.add_argument("--skip-validation", action="store_true", help="skip (c), the slowest section")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("pipelines").setLevel(logging.CRITICAL)  # the tiny guard's garbage verdicts log per call

    import torch

    torch.set_num_threads(1)
    policy = load_policy(POLICY_FILE)
    print("# moderation eval")
    print(f"date {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}")
    print(f"machine: {platform.platform()}, {platform.machine()}, os.cpu_count()={os.cpu_count()}")
    print(f"python {sys.version.split()[0]}, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"policy {POLICY_FILE.relative_to(ROOT)} version {policy.version}")

    rules = PolicyEngine(policy)
    shipped = PolicyEngine(policy, build_text_layers(LayersConfig()))
    layer = next(layer for layer in shipped.extra_layers if isinstance(layer, ClassifierLayer))
    manifest = layer.model.manifest
    extra = manifest.model_extra or {}
    print(
        f"classifier artifact: created {extra.get('created')}, vocabulary {extra.get('vocabulary_size')}, "
        f"thresholds {manifest.thresholds}"
    )
    old_layers = LayersConfig(
        classifier=ClassifierConfig(enabled=False), profanity=ProfanityConfig(enabled=True, require_target=False)
    )
    old = PolicyEngine(policy, build_text_layers(old_layers))
    no_profanity = PolicyEngine(policy, build_text_layers(LayersConfig(profanity=ProfanityConfig(enabled=False))))
    items = labelled_set()
    labelled_report(shipped, items)
    rows: list[OpenAIRow] = []
    if args.openai_set.is_file():
        rows, skipped = load_openai(args.openai_set)
        engines = {
            "rules": rules,
            "rules+classifier": no_profanity,
            "all CPU layers": shipped,
            "rules+untargeted profanity (old)": old,
        }
        openai_report(engines, rows, skipped)
    else:
        print(f"\nOpenAI set not found: {args.openai_set}")
    if not args.skip_validation:
        validation_report(shipped, layer, args.train_data)
    plain_report(shipped, PLAIN_CASES)
    plain_report(
        shipped,
        BLIND_CASES,
        "(d2) held-out plain cases (evals/plain_cases_blind.py: written blind, never used to change anything)",
        list_cases=False,
    )

    short = [item.text for item in items] + [case.text for case in PLAIN_CASES]
    long = long_answers(random.Random(SEED))
    with guard_dir(args.guard_dir) as directory:
        from pipelines.moderation.text.guard import GuardConfig

        config = GuardConfig(model=str(directory), dtype="float32", device="cpu", local_files_only=True)
        guard = GuardLayer(GuardLayerConfig(model=config), gated=True)
        print(f"\nguard layer: {directory} on cpu, float32")
        if rows:
            cascade_report(shipped, guard, rows)
        guarded = PolicyEngine(policy, [*shipped.extra_layers, guard])
        guard_name = "tiny guard" if args.guard_dir is None else f"guard {directory.name}"
        engines = {"rules": rules, "all CPU layers": shipped, f"all CPU + {guard_name} (cascade)": guarded}
        latency_report(engines, short, long, args.guard_texts)
    throughput_report(rules, short, long)


if __name__ == "__main__":
    main()
