"""The moderation training corpus (``shared/datasets/moderation-train``) mapped onto the policy's categories.

Each source row becomes an :class:`Example`: the categories it is positive for, the categories it says
nothing reliable about (``unknown``: left out of those categories' training and validation), and a
weight. Mapping decisions, from the corpus README's cautions:

* COLD (zh) ``hate`` and every ``hate``/``harassment`` label -> ``hate/harassment``. COLD dev is kept
  whole as a validation split (never trained on).
* JADE questions: labels as given; ``illegal`` rows say nothing about ``violence`` and the reverse
  (robbery, weapons). JADE alignment: the safe answers are benign hard negatives (they discuss crime
  without enabling it); of the noisy unsafe answers only ``illegal`` is kept, at half weight.
* Davidson (en): ``hate`` counts only with a majority of hate votes. ``offensive`` is mostly profanity
  and slang without a target, which must not count as harassment. Split by its text: a row with a slur
  against a group or a second-person address (``you``, ``u``, ``ur``...) says nothing reliable about
  ``hate/harassment`` (``unknown``: neither positive nor negative); the rest is a *negative* for it
  (profanity alone is not harassment). Both are ``unknown`` for ``sexual`` (sexual slang, no
  sexual-content label). Rows whose voters split between offensive and neither are dropped.
  The targeted rows used to be *positives*, which taught the model the selection rule itself: ``u``,
  ``you``, ``ur`` and ``ya`` became its strongest hate features, so any benign text addressing its
  reader leaned towards harassment. Insults aimed at a person come from the synthetic families (with
  benign second-person look-alikes), the hate rows and COLD instead.
* SimpleSafetyTests' child-safety prompts are sexual -> ``sexual/minors`` and ``sexual``.
* Everything else as labelled; ``benign`` rows are negatives for every category.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from evals.categories import POLICY_CATEGORIES
from pipelines.core.files import file_sha256

CATEGORIES: tuple[str, ...] = POLICY_CATEGORIES  # the classifier's classes
FILES: tuple[str, ...] = (
    "cold_train_zh.jsonl.gz",
    "cold_dev_zh.jsonl.gz",
    "jade_questions_zh.jsonl.gz",
    "jade_alignment_zh.jsonl.gz",
    "davidson_en.jsonl.gz",
    "toxigen_seeds_en.jsonl.gz",
    "simplesafetytests_en.jsonl.gz",
    "presidio_synth_pii_en.jsonl.gz",
    "youtube_spam_en.jsonl.gz",
)
VALIDATION_FILES = frozenset({"cold_dev_zh.jsonl.gz"})
_LABEL_CATEGORY = {
    "hate": "hate/harassment",
    "harassment": "hate/harassment",
    "violence": "violence",
    "sexual": "sexual",
    "sexual/minors": "sexual/minors",
    "self-harm": "self-harm",
    "illegal": "illegal",
    "spam": "spam",
    "pii": "pii",
}
# Slurs that target a group whoever says them; "nigga" is left out: mostly in-group (reclaimed) use.
_GROUP_SLUR = re.compile(
    r"\b(?:nigger|niggers|faggot|faggots|fag|fags|dyke|dykes|retard|retards|retarded|tranny|trannies|kike|kikes|"
    r"spic|spics|chink|chinks|wetback|wetbacks|coon|coons|raghead|ragheads|towelhead|beaner|beaners)\b",
    re.IGNORECASE,
)
_SECOND_PERSON = re.compile(r"\b(?:you|u|ur|your|youre|you're|yours|ya|yall|y'all|thou)\b", re.IGNORECASE)


AMBIGUOUS = "ambiguous"  # tag: neither a positive nor a clean negative of the binary "any category" metrics


@dataclass(frozen=True)
class Example:
    text: str
    lang: str
    positives: frozenset[str]
    source: str  # file stem or synthetic family
    group: str  # stratum for splitting (source label or family)
    unknown: frozenset[str] = frozenset()
    weight: float = 1.0
    split: str = "train"  # train | val
    tags: tuple[str, ...] = field(default_factory=tuple)  # e.g. ("synthetic", "unseen_family")


@dataclass(frozen=True)
class SourceFile:
    name: str
    rows: int
    sha256: str


def read_jsonl(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def davidson_example(row: dict, source: str) -> Example | None:
    extra = row.get("extra", {})
    votes = {k: int(extra.get(k, 0)) for k in ("hate_speech", "offensive_language", "neither")}
    total = max(1, sum(votes.values()))
    text, label = row["text"], row["label"]
    if label == "hate":
        if votes["hate_speech"] * 2 <= total:
            return None
        return Example(text, "en", frozenset({"hate/harassment"}), source, "hate", unknown=frozenset({"sexual"}))
    if label == "harassment":
        if votes["neither"] > 0:
            return None  # voters split between offensive and neither
        targeted = bool(_GROUP_SLUR.search(text) or _SECOND_PERSON.search(text))
        if targeted:
            unknown = frozenset({"sexual", "hate/harassment"})
            return Example(text, "en", frozenset(), source, "offensive_targeted", unknown=unknown, tags=(AMBIGUOUS,))
        return Example(text, "en", frozenset(), source, "offensive_untargeted", unknown=frozenset({"sexual"}))
    return Example(text, "en", frozenset(), source, "benign")


def map_row(row: dict, file: str) -> Example | None:
    source = file.removesuffix(".jsonl.gz")
    label, text, lang = row["label"], row["text"], row["lang"]
    if source == "davidson_en":
        return davidson_example(row, source)
    if label == "benign":
        return Example(text, lang, frozenset(), source, "benign")
    category = _LABEL_CATEGORY[label]
    positives = {category}
    unknown: set[str] = set()
    weight = 1.0
    if source == "jade_alignment_zh":
        if category != "illegal":
            return None
        weight = 0.5
        unknown.add("violence")
    elif source == "jade_questions_zh" and category in ("illegal", "violence"):
        unknown.add("violence" if category == "illegal" else "illegal")
    if category == "sexual/minors":
        positives.add("sexual")
    return Example(text, lang, frozenset(positives), source, label, unknown=frozenset(unknown), weight=weight)


def load_corpus(directory: Path, validation_fraction: float, seed: int) -> tuple[list[Example], list[SourceFile]]:
    """All mapped rows; COLD dev and a stratified ``validation_fraction`` of every other file are ``val``."""
    examples: list[Example] = []
    sources: list[SourceFile] = []
    for file in FILES:
        path = directory / file
        rows = read_jsonl(path)
        sources.append(SourceFile(file, len(rows), file_sha256(path)))
        mapped = [e for e in (map_row(r, file) for r in rows) if e is not None]
        if file in VALIDATION_FILES:
            examples += [_with_split(e, "val") for e in mapped]
        else:
            examples += stratified_split(mapped, validation_fraction, random.Random(f"{seed}:{file}"))
    return examples, sources


def stratified_split(examples: Iterable[Example], fraction: float, rng: random.Random) -> list[Example]:
    by_group: dict[str, list[Example]] = {}
    for e in examples:
        by_group.setdefault(e.group, []).append(e)
    out: list[Example] = []
    for group in sorted(by_group):
        members = by_group[group]
        rng.shuffle(members)
        cut = round(len(members) * fraction)
        out += [_with_split(e, "val") for e in members[:cut]] + members[cut:]
    return out


def _with_split(example: Example, split: str) -> Example:
    return Example(
        example.text,
        example.lang,
        example.positives,
        example.source,
        example.group,
        example.unknown,
        example.weight,
        split,
        example.tags,
    )
