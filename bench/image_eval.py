"""Quality and cost of the image text screens (OCR, QR codes and barcodes) on the generated image set.

Run: ``.venv/bin/python -m bench.image_eval [--seed N] [--per-group N] [--threads 1 2] [--json PATH]``

Prints, for the current ``configs/policy.yaml`` and shipped text layers (rules + classifier):

(a) OCR character recall per language: the share of each rendered line's characters found, in order,
    in the OCR text of the boxes over it (Levenshtein alignment; NFKC, whitespace ignored), and the
    character error rate;
(b) policy recall on the rendered ad / contact / ID-number lines (zh and en), by group and by rotation,
    next to the *text ceiling*: the same policy on the rendered text itself, so OCR losses and policy
    gaps are told apart;
(c) false positive rate on benign labels, pictures, photos and benign QR codes, with what fired;
(d) QR codes of contact links: decoded, and flagged (spam from the payload);
(e) latency per screen (OCR, codes, total; wall and CPU) p50 / p99 on the 1024x768 images with text, at
    each ``--threads`` setting, and the worst case of the time bound on adversarial inputs.

Every number is from images drawn by ``evals/images/`` from ``--seed``: rerun at will.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw
from rapidfuzz.distance import Levenshtein

from bench.image_summary import LATENCY_SIZE, LineScore, Outcome, latency, quality_report
from bench.report import POLICY_FILE, ROOT, section, table
from evals.images import (
    GROUPS,
    POSITIVE_TEXT_GROUPS,
    GeneratedImage,
    RenderedLine,
    available_fonts,
    generate,
    generate_one,
    photo_samples,
)
from pipelines.moderation.images.image_text import ImageTextConfig, ImageTextScreen, TextCheck
from pipelines.moderation.images.ocr import OcrConfig, OcrLine
from pipelines.moderation.images.qr import CodeConfig
from pipelines.moderation.policy.config import load_policy
from pipelines.moderation.policy.engine import PolicyEngine
from pipelines.moderation.text.layers import LayersConfig, build_text_layers

SEED = 20261201
LATENCY_FIRST_INDEX = 100_000
QUALITY_DEADLINE_S = 10.0
# An OCR box belongs to a rendered line when its centre lies within this share of the line's height
# outside the line's ink box.
MATCH_TOLERANCE = 0.5


def _normalise(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace())


def line_score(rendered: RenderedLine, ocr_lines: Sequence[OcrLine]) -> LineScore:
    """How much of one rendered line the OCR lines over it read (see the module docstring)."""
    import cv2

    contour = np.array(rendered.quad, dtype=np.float32).reshape(-1, 1, 2)
    height = (np.linalg.norm(contour[0] - contour[3]) + np.linalg.norm(contour[1] - contour[2])) / 2
    direction = np.array(rendered.quad[1]) - np.array(rendered.quad[0])
    over = []
    for line in ocr_lines:
        centre = tuple(float(v) for v in np.mean(np.array(line.box), axis=0))
        if cv2.pointPolygonTest(contour, centre, True) >= -MATCH_TOLERANCE * height:
            over.append((float(np.dot(np.array(centre), direction)), line.text))
    read = "".join(text for _, text in sorted(over))
    truth, got = _normalise(rendered.text), _normalise(read)
    matched = sum(block.size for block in Levenshtein.opcodes(truth, got).as_matching_blocks())
    return LineScore(rendered.language, len(truth), matched, Levenshtein.distance(truth, got))


def fired_by(text: str, checks: Sequence[TextCheck], thresholds: Mapping[str, float]) -> set[str]:
    return {
        hit.category
        for check in checks
        for hit in check(text)
        if hit.category in thresholds and hit.score >= thresholds[hit.category]
    }


def evaluate_one(
    item: GeneratedImage, screen: ImageTextScreen, engine: PolicyEngine, thresholds: Mapping[str, float]
) -> Outcome:
    cpu = time.process_time()
    report = screen.screen(item.image, 0)
    cpu_s = time.process_time() - cpu
    incomplete = screen.config.incomplete_category
    decision = engine.decide("", "input", report.policy_hits())
    fired = tuple(sorted(set(decision.fired) - {incomplete}))
    truth = "\n".join(line.text for line in item.lines)
    ceiling = set(fired_by(truth, screen.checks, thresholds)) if truth else set()
    if item.payload is not None:
        ceiling |= fired_by(item.payload, screen.checks, thresholds)
    return Outcome(
        id=item.id,
        group=item.group,
        kind=item.kind,
        rotation=item.rotation,
        expected=tuple(sorted(item.expected)),
        fired=fired,
        fired_by=tuple(sorted({f"{h.category}:{h.layer}" for h in report.hits if h.category != incomplete})),
        ceiling=tuple(sorted(ceiling)),
        code_fired=tuple(sorted({h.category for h in report.hits if h.source == "code"})),
        payload=item.payload,
        decoded=tuple(code.payload for code in report.codes),
        complete=report.complete,
        lines=tuple(line_score(line, report.lines) for line in item.lines),
        size=item.image.size,
        has_text=bool(item.lines),
        ocr_s=report.ocr_s,
        codes_s=report.codes_s,
        text_s=report.text_s,
        cpu_s=cpu_s,
    )


def evaluate(
    items: Iterable[GeneratedImage], screen: ImageTextScreen, engine: PolicyEngine, progress: bool = False
) -> list[Outcome]:
    thresholds = {name: spec.threshold for name, spec in engine.policy.categories.items()}
    outcomes = []
    for count, item in enumerate(items, 1):
        outcomes.append(evaluate_one(item, screen, engine, thresholds))
        if progress and count % 25 == 0:
            print(f"  ... {count} images", file=sys.stderr, flush=True)
    return outcomes


def build_screen(
    engine: PolicyEngine, threads: int = 1, deadline_s: float | None = None, **ocr: object
) -> ImageTextScreen:
    """The default screens at ``threads`` ONNX threads; ``deadline_s`` for both OCR and codes when given;
    ``ocr``: other OcrConfig fields to override."""
    ocr_fields: dict[str, object] = {"intra_op_threads": threads, **ocr}
    if deadline_s is None:
        config = ImageTextConfig(ocr=OcrConfig.model_validate(ocr_fields))
    else:
        ocr_fields["deadline_s"] = deadline_s
        codes = CodeConfig(deadline_s=deadline_s)
        config = ImageTextConfig(ocr=OcrConfig.model_validate(ocr_fields), codes=codes, deadline_s=deadline_s)
    return ImageTextScreen.for_engine(config, engine)


def shipped_engine() -> tuple[PolicyEngine, str]:
    """The policy file with the shipped text layers, and a line saying which ran. Where a layer cannot be
    built here (a classifier artifact not trained yet), the rules alone are measured, and the line says so."""
    policy = load_policy(POLICY_FILE)
    try:
        layers = build_text_layers(LayersConfig())
    except Exception as exc:  # noqa: BLE001 - any load failure: say so and measure the rules
        return PolicyEngine(policy), f"rules only (shipped layers not loadable here: {type(exc).__name__}: {exc})"
    return PolicyEngine(policy, layers), "rules + " + (", ".join(layer.name for layer in layers) or "nothing else")


def latency_images(seed: int, count: int) -> list[GeneratedImage]:
    """``count`` 1024x768 images with text, drawn past the quality set's indices (so not the same images)."""
    groups = (*POSITIVE_TEXT_GROUPS, "label/zh", "label/en")
    chosen: list[GeneratedImage] = []
    index = LATENCY_FIRST_INDEX
    while len(chosen) < count:
        item = generate_one(groups[index % len(groups)], index, seed)
        if item.image.size == LATENCY_SIZE:
            chosen.append(item)
        index += 1
    return chosen


def latency_rows(outcomes: Sequence[Outcome]) -> list[list[object]]:
    return [[name, p50, p99] for name, (p50, p99) in latency(outcomes).items()]


def latency_report(engine: PolicyEngine, items: Sequence[GeneratedImage], threads: Sequence[int]) -> dict[str, object]:
    section(
        f"(e) latency per screen, seconds, on {len(items)} generated {LATENCY_SIZE[0]}x{LATENCY_SIZE[1]} "
        "images with text"
    )
    summary: dict[str, object] = {}
    for count in threads:
        screen = build_screen(engine, count)
        screen.screen(items[0].image)  # warm-up: ONNX sessions allocate on first run
        outcomes = evaluate(items, screen, engine)
        print(f"\nONNX Runtime intra-op threads = {count}\n")
        print(table(["screen", "p50", "p99"], latency_rows(outcomes)))
        summary[f"threads_{count}"] = {name: {"p50": p50, "p99": p99} for name, (p50, p99) in latency(outcomes).items()}
    return summary


def adversarial_images() -> dict[str, Image.Image]:
    """Inputs that maximise each stage's work: a page of small text (more boxes than ``max_lines``),
    high-frequency noise (detector post-processing), and the same page at 39 MP, near the validator's
    40 MP limit (conversion, downscaling, crops from a large source)."""
    rng = np.random.default_rng(SEED)
    font = next(face for face in available_fonts() if face.cjk).at(16)
    page = Image.new("RGB", LATENCY_SIZE, (250, 250, 250))
    draw = ImageDraw.Draw(page)
    words = ("净含量 500g 保质期 12个月 配料：水、白砂糖", "100% cotton, machine wash 30°C, do not bleach")
    for row in range(36):
        for column in range(2):
            draw.text((12 + column * 510, 8 + row * 21), words[(row + column) % 2], font=font, fill=(20, 20, 20))
    noise = Image.fromarray(rng.integers(0, 256, (LATENCY_SIZE[1], LATENCY_SIZE[0], 3), dtype=np.uint8))
    return {
        "text page 1024x768 (72 lines)": page,
        "noise 1024x768": noise,
        "text page 7680x5120 (39 MP)": page.resize((7680, 5120)),
    }


def worst_case_report(engine: PolicyEngine, repeats: int = 3) -> dict[str, object]:
    section("(e') the time bound: OCR + codes on adversarial inputs (max wall seconds over repeats)")
    default = ImageTextConfig()
    unbounded = ImageTextConfig(
        ocr=OcrConfig(deadline_s=600.0, max_lines=10_000, max_candidates=10_000),
        codes=CodeConfig(deadline_s=600.0),
        deadline_s=600.0,
    )
    rows = []
    summary: dict[str, object] = {}
    for label, config in (("default", default), ("no deadline, no caps", unbounded)):
        screen = ImageTextScreen.for_engine(config, engine)
        for name, image in adversarial_images().items():
            walls, cpus, lines, complete = [], [], 0, True
            for _ in range(repeats):
                cpu = time.process_time()
                report = screen.screen(image)
                cpus.append(time.process_time() - cpu)
                walls.append(report.ocr_s + report.codes_s)
                lines, complete = max(lines, len(report.lines)), complete and report.complete
            rows.append([label, name, max(walls), max(cpus), lines, complete])
            summary[f"{label}: {name}"] = {"wall_s": max(walls), "cpu_s": max(cpus)}
    print(
        f"per-image deadline_s {default.deadline_s} (OCR's own {default.ocr.deadline_s}, "
        f"codes' own {default.codes.deadline_s})\n"
    )
    print(table(["config", "input", "worst wall s", "worst cpu s", "lines", "complete"], rows, left=2))
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--per-group", type=int, default=25, help="images per group of evals/images/")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="ONNX intra-op threads to time")
    parser.add_argument("--latency-images", type=int, default=30, help="1024x768 text images timed per setting")
    parser.add_argument(
        "--quality-deadline",
        type=float,
        default=QUALITY_DEADLINE_S,
        help="OCR and codes deadline for (a)-(d): quality should not depend on what else loads the machine; "
        "(e) uses the defaults",
    )
    parser.add_argument("--max-pixels", type=int, default=None, help="OCR canvas budget for (a)-(d) (default: config)")
    parser.add_argument("--skip-worst-case", action="store_true")
    parser.add_argument("--json", help="also write the summary numbers to this file")
    args = parser.parse_args(argv)

    engine, layers = shipped_engine()
    print("# image eval")
    print(f"date {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}")
    print(f"machine: {platform.platform()}, os.cpu_count()={os.cpu_count()}, load {os.getloadavg()[0]:.2f}")
    print(f"policy {POLICY_FILE.relative_to(ROOT)} version {engine.policy.version}; text layers: {layers}")
    print(f"seed {args.seed}, {args.per_group} images per group; fonts: {', '.join(f.name for f in available_fonts())}")
    groups = [g for g in GROUPS if g != "photo" or photo_samples()]
    print(f"groups: {', '.join(groups)}" + ("" if photo_samples() else " (photo: scikit-image not installed)"))

    overrides: dict[str, object] = {} if args.max_pixels is None else {"max_pixels": args.max_pixels}
    screen = build_screen(engine, 1, args.quality_deadline, **overrides)
    shown = screen.config.ocr.model_dump(include={"max_pixels", "deadline_s", "max_lines"})
    print(f"OCR for (a)-(d): {shown}; codes and per-image deadline_s {screen.config.deadline_s}")
    started = time.monotonic()
    outcomes = evaluate(generate(args.seed, args.per_group, groups), screen, engine, progress=True)
    print(f"{len(outcomes)} images screened in {time.monotonic() - started:.0f} s (intra-op threads 1)")
    summary: dict[str, object] = {
        "policy_version": engine.policy.version,
        "text_layers": layers,
        "seed": args.seed,
        "images": len(outcomes),
    }
    summary.update(quality_report(outcomes))

    summary["latency"] = latency_report(engine, latency_images(args.seed, args.latency_images), args.threads)
    if not args.skip_worst_case:
        summary["worst_case"] = worst_case_report(engine)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(summary, out, indent=2, ensure_ascii=False)
        print(f"\nsummary written to {args.json}")


if __name__ == "__main__":
    main()
