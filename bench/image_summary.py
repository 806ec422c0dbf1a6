"""What one screened image of :mod:`bench.image_eval` came to, and the report over all of them:
OCR character recall, policy recall by group and rotation, false positives, QR codes, latency."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.report import percentile, section, table
from evals.images import BENIGN_GROUPS, POSITIVE_TEXT_GROUPS

LATENCY_SIZE = (1024, 768)
RULE_LAYERS = frozenset({"terms", "patterns", "contact_links"})
ROTATION_BINS = ((0.0, 5.0), (5.0, 10.0), (10.0, 15.01))


@dataclass(frozen=True)
class LineScore:
    language: str
    characters: int
    matched: int
    distance: int


@dataclass(frozen=True)
class Outcome:
    id: str
    group: str
    kind: str
    rotation: float
    expected: tuple[str, ...]
    fired: tuple[str, ...]  # from the screened image (the incomplete-read category apart)
    fired_by: tuple[str, ...]  # "category:layer" of every counted hit on the image
    ceiling: tuple[str, ...]  # the same checks on the rendered text itself
    code_fired: tuple[str, ...]  # from code payloads only
    payload: str | None
    decoded: tuple[str, ...]
    complete: bool
    lines: tuple[LineScore, ...]
    size: tuple[int, int]
    has_text: bool
    ocr_s: float
    codes_s: float
    text_s: float
    cpu_s: float

    @property
    def caught(self) -> bool:
        return set(self.expected) <= set(self.fired)

    @property
    def fired_by_rules(self) -> set[str]:
        """Categories fired by the rule layers alone (terms, patterns, contact links): no model layer."""
        return {entry.split(":")[0] for entry in self.fired_by if entry.split(":")[1] in RULE_LAYERS}


def char_recall(outcomes: Sequence[Outcome], language: str) -> tuple[float, float, int]:
    """(recall, character error rate, characters) over every rendered line in ``language``."""
    scores = [s for o in outcomes for s in o.lines if s.language == language]
    characters = sum(s.characters for s in scores)
    if not characters:
        return 0.0, 0.0, 0
    return sum(s.matched for s in scores) / characters, sum(s.distance for s in scores) / characters, characters


def recall(outcomes: Sequence[Outcome]) -> tuple[float, int, int]:
    caught = sum(o.caught for o in outcomes)
    return (caught / len(outcomes) if outcomes else 0.0), caught, len(outcomes)


def rules_recall(outcomes: Sequence[Outcome]) -> tuple[float, int, int]:
    caught = sum(set(o.expected) <= o.fired_by_rules for o in outcomes)
    return (caught / len(outcomes) if outcomes else 0.0), caught, len(outcomes)


def rules_false_positive_rate(outcomes: Sequence[Outcome]) -> tuple[float, int, int]:
    flagged = sum(bool(o.fired_by_rules) for o in outcomes)
    return (flagged / len(outcomes) if outcomes else 0.0), flagged, len(outcomes)


def ceiling_recall(outcomes: Sequence[Outcome]) -> tuple[float, int, int]:
    caught = sum(set(o.expected) <= set(o.ceiling) for o in outcomes)
    return (caught / len(outcomes) if outcomes else 0.0), caught, len(outcomes)


def false_positive_rate(outcomes: Sequence[Outcome]) -> tuple[float, int, int]:
    flagged = sum(bool(o.fired) for o in outcomes)
    return (flagged / len(outcomes) if outcomes else 0.0), flagged, len(outcomes)


def qr_recall(outcomes: Sequence[Outcome]) -> tuple[float, float, int]:
    """(flagged as spam from the payload, decoded exactly) over the qr_contact images."""
    qr = [o for o in outcomes if o.group == "qr_contact"]
    if not qr:
        return 0.0, 0.0, 0
    flagged = sum("spam" in o.code_fired for o in qr) / len(qr)
    decoded = sum(o.payload in o.decoded for o in qr) / len(qr)
    return flagged, decoded, len(qr)


def latency(outcomes: Sequence[Outcome]) -> dict[str, tuple[float, float]]:
    """p50 / p99 seconds per screen over the 1024x768 images with text."""
    chosen = [o for o in outcomes if o.size == LATENCY_SIZE and o.has_text]
    if not chosen:
        return {}
    series = {
        "ocr": [o.ocr_s for o in chosen],
        "codes": [o.codes_s for o in chosen],
        "text layers": [o.text_s for o in chosen],
        "total (wall)": [o.ocr_s + o.codes_s + o.text_s for o in chosen],
        "total (cpu)": [o.cpu_s for o in chosen],
    }
    return {name: (percentile(values, 0.5), percentile(values, 0.99)) for name, values in series.items()}


def _ratio(value: tuple[float, int, int]) -> str:
    return f"{value[0]:.3f} ({value[1]}/{value[2]})"


def quality_report(outcomes: Sequence[Outcome]) -> dict[str, object]:
    summary: dict[str, object] = {}
    section("(a) OCR character recall (rendered lines; NFKC, whitespace ignored)")
    rows = []
    for language in ("zh", "en"):
        value, cer, characters = char_recall(outcomes, language)
        rows.append([language, characters, value, cer])
        summary[f"char_recall_{language}"] = value
        summary[f"cer_{language}"] = cer
    print(table(["language", "characters", "char recall", "CER"], rows))

    section("(b) policy recall on rendered ad / contact / ID-number lines (expected category fired)")
    rows = []
    for group in POSITIVE_TEXT_GROUPS:
        chosen = [o for o in outcomes if o.group == group]
        rows.append([group, _ratio(recall(chosen)), _ratio(ceiling_recall(chosen)), _ratio(rules_recall(chosen))])
    positives = [o for o in outcomes if o.group in POSITIVE_TEXT_GROUPS]
    rows.append(["all", _ratio(recall(positives)), _ratio(ceiling_recall(positives)), _ratio(rules_recall(positives))])
    print(table(["group", "image recall", "text ceiling", "image, rules only"], rows))
    summary["policy_recall"] = recall(positives)[0]
    summary["policy_recall_rules_only"] = rules_recall(positives)[0]
    summary["policy_ceiling"] = ceiling_recall(positives)[0]
    print("\nby rotation (|degrees|) and language\n")
    rows = []
    for low, high in ROTATION_BINS:
        row: list[object] = [f"{low:.0f}-{min(high, 15):.0f}"]
        for language in ("zh", "en"):
            chosen = [o for o in positives if o.group.endswith(language) and low <= o.rotation < high]
            row.append(_ratio(recall(chosen)))
        rows.append(row)
    print(table(["rotation", "zh", "en"], rows))
    missed = [o for o in positives if not o.caught]
    print(f"\nmissed ({len(missed)}): id, expected, fired, text ceiling")
    for o in missed:
        print(f"  {o.id}: {list(o.expected)} fired {list(o.fired_by)} ceiling {list(o.ceiling)}")

    section("(c) false positives on benign images (any category fired)")
    rows = []
    for group in BENIGN_GROUPS:
        chosen = [o for o in outcomes if o.group == group]
        if chosen:
            rows.append([group, _ratio(false_positive_rate(chosen)), _ratio(rules_false_positive_rate(chosen))])
    benign = [o for o in outcomes if o.group in BENIGN_GROUPS]
    labels_pictures = [o for o in benign if o.group != "qr_benign"]
    for name, chosen in (("labels + pictures + photos", labels_pictures), ("all benign", benign)):
        rows.append([name, _ratio(false_positive_rate(chosen)), _ratio(rules_false_positive_rate(chosen))])
    print(table(["group", "FPR", "FPR, rules only"], rows))
    summary["fpr_labels_pictures"] = false_positive_rate(labels_pictures)[0]
    summary["fpr_labels_pictures_rules_only"] = rules_false_positive_rate(labels_pictures)[0]
    summary["fpr_all_benign"] = false_positive_rate(benign)[0]
    summary["fpr_all_benign_rules_only"] = rules_false_positive_rate(benign)[0]
    print("\nwhat fired (category:layer), and on the rendered text itself:")
    for o in benign:
        if o.fired:
            print(f"  {o.id}: {list(o.fired_by)} (text ceiling {list(o.ceiling)})")
    incomplete = [o for o in outcomes if not o.complete]
    print(f"\nincomplete reads (deadline or caps; a `screen_unavailable` hit): {len(incomplete)}/{len(outcomes)}")
    summary["incomplete"] = len(incomplete)

    section("(d) QR codes of contact links")
    flagged, decoded, count = qr_recall(outcomes)
    print(f"flagged spam from the payload: {flagged:.3f}, decoded exactly: {decoded:.3f} (of {count})")
    summary["qr_contact_recall"] = flagged
    summary["qr_contact_decoded"] = decoded
    for o in outcomes:
        if o.group == "qr_contact" and "spam" not in o.code_fired:
            print(f"  missed {o.id}: {o.payload!r}, decoded {list(o.decoded)}")
    return summary
