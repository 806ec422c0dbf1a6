"""Quality and cost of the content policy's text layers, in one command.

Run: ``.venv/bin/python -m bench.moderation_eval [--guard-dir DIR] [--guard-texts N]``

Prints:

(a) per-category precision / recall / F1 (tp, fp, fn) of the shipped policy (rules + profanity
    classifier) on the labelled set of ``evals/labelled.py``, recall by kind and language, and which
    ``benign_hard`` texts it flags;
(b) the public OpenAI moderation test set (``../shared/datasets/openai-moderation``): precision, recall,
    F1 and AUPRC of "any category flagged" (score: the highest category score) against "any label is 1",
    and per-label recall where a policy category maps onto the label. Nothing is tuned on this set;
(c) latency per text (p50 / p99, ms) for rules only, rules + profanity, and rules + profanity + the tiny
    random guard model (built into a temporary directory unless ``--guard-dir`` is given; its verdicts
    are garbage, it measures the cost of the code path only), on the labelled texts and on 1-2 KB
    model-answer-like texts;
(d) throughput (texts/s) of the rule layers alone (terms + patterns) over a few thousand texts.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gzip
import json
import logging
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from evals.labelled import RULE_CATEGORIES, LabelledText, fired_categories, labelled_set, score
from pipelines.moderation.policy.config import Direction, load_policy
from pipelines.moderation.policy.engine import PolicyEngine
from pipelines.moderation.text.layers import GuardLayer, GuardLayerConfig, LayersConfig, build_text_layers

ROOT = Path(__file__).resolve().parent.parent
POLICY_FILE = ROOT / "configs" / "policy.yaml"
OPENAI_SET = ROOT.parent / "shared" / "datasets" / "openai-moderation" / "samples-1680.jsonl.gz"
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


# --- output helpers -----------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], left: int = 1) -> str:
    """A plain-text table; the first ``left`` columns are left-aligned, the rest right-aligned."""
    cells = [[str(h) for h in headers], *[[fmt(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def section(title: str) -> None:
    print(f"\n## {title}\n")


# --- (a) the labelled set --------------------------------------------------------------------------


def labelled_report(engine: PolicyEngine, items: list[LabelledText]) -> None:
    section("(a) labelled set (evals/labelled.py), shipped policy: rules + profanity, direction=input")
    kinds: dict[str, int] = {}
    for item in items:
        kinds[f"{item.kind}/{item.language}"] = kinds.get(f"{item.kind}/{item.language}", 0) + 1
    print(f"size {len(items)}: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    fired = fired_categories(engine, items, "input")
    main = [(item, got) for item, got in zip(items, fired, strict=True) if item.kind != "benign_hard"]
    main_scores = score([i for i, _ in main], [g for _, g in main], RULE_CATEGORIES)
    all_scores = score(items, fired, RULE_CATEGORIES)
    print(
        "P, R, F1, tp/fp/fn: without benign_hard (texts written to contain a policy term innocently); "
        "P(all): with them\n"
    )
    rows = []
    for category in RULE_CATEGORIES:
        p, r, tp, fp, fn = main_scores[category]
        positives = [i for i in items if category in i.categories]
        en = sum(1 for i in positives if i.language == "en")
        rows.append([category, f"{en}/{len(positives) - en}", p, r, f1(p, r), tp, fp, fn, all_scores[category][0]])
    print(table(["category", "pos en/zh", "P", "R", "F1", "tp", "fp", "fn", "P(all)"], rows))

    print("\nrecall by kind and language (hits/positives)\n")
    columns = [(kind, lang) for kind in ("plain", "paraphrase", "evasion") for lang in ("en", "zh")]
    rows = []
    for category in RULE_CATEGORIES:
        row: list[object] = [category]
        for kind, lang in columns:
            group = [
                got
                for item, got in zip(items, fired, strict=True)
                if category in item.categories and item.kind == kind and item.language == lang
            ]
            row.append(f"{sum(category in got for got in group)}/{len(group)}")
        rows.append(row)
    print(table(["category", *[f"{k} {lang}" for k, lang in columns]], rows))

    print("\nbenign_hard texts and what fired\n")
    hard = [(item, got) for item, got in zip(items, fired, strict=True) if item.kind == "benign_hard"]
    print(table(["fired", "text"], [[",".join(sorted(got)) or "-", item.text] for item, got in hard], left=2))
    clean = [(item, got) for item, got in zip(items, fired, strict=True) if item.kind in ("benign", "benign_lookalike")]
    alarms = [(item, got) for item, got in clean if got & item.must_not_fire]
    print(f"\nclean (benign + benign_lookalike) texts flagged: {len(alarms)}/{len(clean)}")
    for item, got in alarms:
        print(f"  {sorted(got)}: {item.text}")


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


def openai_report(engines: dict[str, PolicyEngine], path: Path) -> None:
    from sklearn.metrics import average_precision_score

    section(f"(b) OpenAI moderation test set ({path.name}), direction=input, nothing tuned on it")
    if not path.is_file():
        print(f"not found: {path}")
        return
    rows, skipped = load_openai(path)
    truth = [row.positive for row in rows]
    print(f"rows {len(rows)} (skipped, all labels unknown: {skipped}), positive (any label 1): {sum(truth)}")
    print('prediction: any policy category fired ("harm only": one of ' + ", ".join(HARM_CATEGORIES) + ")")
    print("AUPRC score: the highest category score (rule hits score 1, the classifier its probability)\n")
    summary, recalls = [], []
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
            tp = sum(1 for t, f in zip(truth, flagged, strict=True) if t and f)
            fp = sum(1 for t, f in zip(truth, flagged, strict=True) if not t and f)
            fn = sum(1 for t, f in zip(truth, flagged, strict=True) if t and not f)
            p = tp / (tp + fp) if tp + fp else 0.0
            r = tp / (tp + fn) if tp + fn else 0.0
            auprc = float(average_precision_score(truth, scores))
            summary.append([name, scope, f1(p, r), p, r, auprc, tp, fp, fn])
        for label, category in LABEL_CATEGORY.items():
            idx = [i for i, row in enumerate(rows) if row.labels.get(label) == 1]
            mapped = sum(decisions[i].categories[category].detected for i in idx)
            anything = sum(bool(decisions[i].fired) for i in idx)
            recalls.append([name, label, category, len(idx), mapped / len(idx), anything / len(idx)])
        print(f"{name}: {len(rows)} texts in {elapsed:.1f} s")
    print()
    print(table(["layers", "flagged by", "F1", "P", "R", "AUPRC", "tp", "fp", "fn"], summary, left=2))
    print("\nper-label recall: R(cat) = the mapped category fired, R(any) = any category fired\n")
    print(table(["layers", "label", "category", "n", "R(cat)", "R(any)"], recalls, left=3))
    print("\nfor reference (README): OpenAI moderation API F1 0.788, Llama Guard 2 F1 0.807, ShieldGemma 9B")
    print("F1 0.821 / AUPRC 0.907, bare alt-profanity-check F1 0.659 (threshold 0.3) / AUPRC 0.737")


# --- (c) latency, (d) throughput ---------------------------------------------------------------------

_ANSWER_EN = [
    "The jacket in the photo is a mid-weight softshell in navy blue with a high collar and two zipped hand "
    "pockets. The fabric has a slight sheen, which usually means a polyester blend with a durable water "
    "repellent finish rather than a fully waterproof membrane.",
    "For daily commuting it should be comfortable between about 5 and 15 degrees Celsius. In heavy rain you "
    "would want a shell with taped seams; this one is better suited to drizzle and wind.",
    "Care instructions for this kind of garment are simple: wash it cold on a gentle cycle, skip the fabric "
    "softener because it clogs the water repellent coating, and tumble dry on low heat to reactivate it.",
    "If you are choosing between the two sizes, the medium runs slightly long in the sleeves according to "
    "most reviews, so people between sizes often pick the smaller one and layer a thin fleece underneath.",
    "Here is a short summary of the order: one pair of running shoes, size 42, delivered by standard "
    "shipping within three to five working days. Returns are free within thirty days if the shoes are unworn.",
    "The image shows a kitchen counter with a chopping board, three tomatoes, a bunch of basil and a glass "
    "bottle of olive oil. The light comes from a window on the left, and the background is slightly blurred.",
    "To make a simple tomato sauce, warm the oil, add a sliced clove of garlic, then the chopped tomatoes and "
    "a pinch of salt. Simmer for twenty minutes, tear in the basil at the end and season to taste.",
    "I cannot see any text or logo on the product that would identify the brand, but the stitching pattern "
    "and the shape of the toe box are similar to several popular trail running models from recent years.",
]
_ANSWER_ZH = [
    "图片中是一件藏青色的中等厚度软壳外套，立领设计，两侧各有一个带拉链的口袋。面料表面略有光泽，"
    "通常是涤纶混纺并做了防泼水处理，而不是完全防水的薄膜面料。",
    "日常通勤的话，这件外套大约适合五到十五摄氏度的天气。如果经常遇到大雨，建议选择压胶密封的冲锋衣；"
    "这一件更适合小雨和大风天气。",
    "这类衣服的护理很简单：冷水轻柔洗涤，不要使用柔顺剂，因为柔顺剂会堵塞防泼水涂层，洗后低温烘干可以让涂层恢复效果。",
    "订单摘要如下：跑鞋一双，四十二码，普通快递三到五个工作日送达。未穿着的商品三十天内可以免费退货。",
    "图片里是厨房台面，上面有一块砧板、三个番茄、一把罗勒和一瓶橄榄油。光线从左边的窗户照进来，背景略微虚化。",
    "做简单的番茄酱汁：先把油加热，放入蒜片，再加入切好的番茄和少许盐，小火炖二十分钟，最后撕入罗勒叶，"
    "按口味调味即可。",
]


def long_answers(rng: random.Random) -> list[str]:
    """Model-answer-like texts of 1-2 KB (UTF-8): 16 English, 8 Chinese, paragraphs drawn with a seed."""
    texts = []
    for pool, count in ((_ANSWER_EN, 16), (_ANSWER_ZH, 8)):
        for _ in range(count):
            target = rng.randint(1024, 2048)
            parts: list[str] = []
            while len("\n\n".join(parts).encode()) < target:
                parts.append(rng.choice(pool))
            texts.append("\n\n".join(parts))
    return texts


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_checks(engine: PolicyEngine, texts: Sequence[str], direction: Direction, prompt: str | None) -> list[float]:
    for text in texts[:5]:  # warm-up: caches, lazy model state
        engine.check(text, direction, prompt)
    times = []
    for text in texts:
        started = time.perf_counter()
        engine.check(text, direction, prompt)
        times.append(time.perf_counter() - started)
    return times


@contextlib.contextmanager
def guard_dir(given: Path | None) -> Iterator[Path]:
    if given is not None:
        yield given
        return
    from devtools.tiny_guard import build_tiny_guard

    with tempfile.TemporaryDirectory(prefix="tiny-guard-") as tmp:
        started = time.perf_counter()
        build_tiny_guard(tmp)
        print(f"built the tiny guard into {tmp} in {time.perf_counter() - started:.1f} s")
        yield Path(tmp)


def latency_report(engines: dict[str, PolicyEngine], short: list[str], long: list[str], guard_texts: int) -> None:
    section("(c) filter latency per text (engine.check, time.perf_counter)")
    print(
        f"short: the labelled set's texts, direction=input; long: {len(long)} model-answer-like texts of "
        f"{min(len(t.encode()) for t in long)}-{max(len(t.encode()) for t in long)} bytes, direction=output "
        "with a prompt"
    )
    print(f"the guard row times an evenly spaced subset of {guard_texts} short texts (all long ones)\n")
    rows = []
    for name, engine in engines.items():
        subset = short
        if "guard" in name and guard_texts < len(short):
            step = len(short) / guard_texts
            subset = [short[int(i * step)] for i in range(guard_texts)]
        for corpus, texts, direction, prompt in (
            ("short", subset, "input", None),
            ("long", long, "output", "Describe the product in the photo."),
        ):
            times = time_checks(engine, texts, direction, prompt)
            ms = [t * 1000 for t in times]
            rows.append([name, corpus, len(texts), percentile(ms, 0.5), percentile(ms, 0.99), statistics.fmean(ms)])
    print(table(["layers", "texts", "n", "p50 ms", "p99 ms", "mean ms"], rows, left=2))


def throughput_report(engine: PolicyEngine, short: list[str], long: list[str]) -> None:
    section("(d) throughput of the rule layers alone (TermDetector + PatternDetector), one thread")
    corpora = {"short (labelled x6)": short * 6, "long (answers x40)": long * 40}
    corpora["mixed"] = [*corpora["short (labelled x6)"], *corpora["long (answers x40)"]]
    rows = []
    for name, texts in corpora.items():
        time_checks(engine, texts[:50], "output", None)
        started = time.perf_counter()
        for text in texts:
            engine.check(text, "output")
        elapsed = time.perf_counter() - started
        size = sum(len(t.encode()) for t in texts)
        rows.append([name, len(texts), elapsed, len(texts) / elapsed, size / elapsed / 1e6])
    print(table(["corpus", "texts", "seconds", "texts/s", "MB/s"], rows))


# --- main ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guard-dir", type=Path, help="a guard checkpoint directory (default: build the tiny one)")
    parser.add_argument("--guard-texts", type=int, default=120, help="short texts timed through the guard layer")
    parser.add_argument("--openai-set", type=Path, default=OPENAI_SET)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("pipelines").setLevel(logging.CRITICAL)  # the tiny guard's garbage verdicts log per call

    import torch

    policy = load_policy(POLICY_FILE)
    print("# moderation eval")
    print(f"date {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}")
    print(f"machine: {platform.platform()}, {platform.machine()}, os.cpu_count()={os.cpu_count()}")
    print(f"python {sys.version.split()[0]}, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"policy {POLICY_FILE.relative_to(ROOT)} version {policy.version}")

    rules = PolicyEngine(policy)
    shipped = PolicyEngine(policy, build_text_layers(LayersConfig()))
    items = labelled_set()
    labelled_report(shipped, items)
    openai_report({"rules": rules, "rules+profanity": shipped}, args.openai_set)

    short = [item.text for item in items]
    long = long_answers(random.Random(SEED))
    with guard_dir(args.guard_dir) as directory:
        from pipelines.moderation.text.guard import GuardConfig

        config = GuardConfig(model=str(directory), dtype="float32", device="cpu", local_files_only=True)
        guard = GuardLayer(GuardLayerConfig(model=config))
        guarded = PolicyEngine(policy, [*shipped.extra_layers, guard])
        guard_name = "tiny guard" if args.guard_dir is None else f"guard {directory.name}"
        print(f"\nguard layer: {directory} on cpu, float32")
        engines = {"rules": rules, "rules+profanity": shipped, f"rules+profanity+{guard_name}": guarded}
        latency_report(engines, short, long, args.guard_texts)
    throughput_report(rules, short, long)


if __name__ == "__main__":
    main()
