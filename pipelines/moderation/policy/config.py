"""The policy file's schema (`configs/policy.yaml`), strict so a typo fails the load.

Decisions:

* Patterns are RE2 regular expressions (``google-re2``): matching is linear in the text whatever the
  pattern, so neither a shipped nor a customer pattern can backtrack. RE2 has no lookarounds or
  backreferences; a pattern that needs them fails the load with RE2's reason. Context is written
  into the pattern instead: ``\\b`` (an ASCII word boundary, which RE2 has), or a leading
  ``(?:^|[^0-9])`` with the identifier in a capture group reported through ``group``.
* Long term lists live in text files (``term_files``, one term per line, ``configs/lexicons/``),
  read once when the policy loads; the loaded policy holds every term, so it needs no file again.
* ``scan`` bounds what one text may cost the rule layers (characters scanned, hits examined,
  phone numbers checked); past each bound the layers fail closed, as documented per field.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import re2
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipelines.moderation.images.nsfw_policy import NsfwPolicy
from pipelines.moderation.text.normalize import compact_term

Direction = Literal["input", "output"]
Validator = Literal["luhn", "payment_card", "cn_resident_id", "us_ssn", "iban", "phone_cn", "phone_nanp", "phone_intl"]

# Strings a pattern must not match emptily anywhere in: an empty match is no span, yet every one of
# them would still cost a regex step, so a pattern like `\b` could match at every word of a text.
_EMPTY_MATCH_PROBES = ("", "a", "a b", "ab12 中文", "1 2", " - _ . @ \n", "x\ny")
_COMMENT = "#"
_EXCEPTION_PREFIX = "!"


class Action(StrEnum):
    """Ordered by severity: the strongest action among fired categories wins."""

    allow = "allow"
    flag = "flag"
    redact = "redact"
    block = "block"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {Action.allow: 0, Action.flag: 1, Action.redact: 2, Action.block: 3}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScanLimits(_Strict):
    """What one text may cost the rule layers. Every bound fails closed or says so in the decision."""

    max_chars: int = Field(
        65_536,
        gt=0,
        description="Characters of one text the rule layers scan. A longer text is scanned up to here and, "
        "when `overflow_category` is set, also gets a whole-text hit there (the rest was not screened).",
    )
    overflow_category: str | None = Field(
        None,
        description="Policy category hit (score 1) when a text is longer than `max_chars`; its action is the "
        "fail mode. Null: the rest of the text is silently unscanned.",
    )
    max_hits: int = Field(
        256,
        gt=0,
        description="Matches of one pattern (and term hits of the term layer) examined in full per text. Past it "
        "the rest of the text, from the next match on, is one span of that category: redacted or blocked whole.",
    )
    max_phone_checks: int = Field(
        32,
        ge=0,
        description="Phone-number candidates checked against libphonenumber per text (tens of microseconds "
        "each). Past it, a candidate that has the pattern's shape counts as a phone number unchecked.",
    )
    prefilter_max_chars: int = Field(
        8192,
        ge=0,
        description="Texts up to this long are first matched against all patterns at once (one RE2 set, one "
        "pass), and only the patterns that match run on their own. Longer texts run every pattern: the set "
        "cannot say when it ran out of memory, and a silent miss would fail open.",
    )
    regex_max_mem: int = Field(
        8 << 20,
        ge=1 << 20,
        description="RE2 memory budget per pattern, in bytes (its compiled program and DFA cache). A pattern too "
        "big for it fails the load; a DFA that outgrows it falls back to RE2's slower, still linear, NFA.",
    )


def linear_options(max_mem: int = ScanLimits.model_fields["regex_max_mem"].default) -> Any:
    """RE2 options for policy patterns: case-insensitive, quiet, ``max_mem`` bytes."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.max_mem = max_mem
    return options


def compile_linear(regex: str, max_mem: int = ScanLimits.model_fields["regex_max_mem"].default) -> Any:
    """Compile ``regex`` with RE2, case-insensitively; ValueError with RE2's reason if it cannot."""
    options = linear_options(max_mem)
    try:
        return re2.compile(regex, options)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        raise ValueError(
            f"regex {regex!r} cannot be compiled by RE2, the linear-time engine patterns run on "
            f"(no lookarounds, backreferences or possessive quantifiers): {reason}"
        ) from exc


class PatternSpec(_Strict):
    """In YAML either a mapping or a bare regex string (shorthand for ``{regex: ...}``)."""

    regex: str = Field(
        description="RE2 regular expression (linear time: no lookarounds or backreferences), matched "
        "case-insensitively on the folded text: NFKC (full-width forms ASCII), lower case, zero-width "
        "characters and emoji removed, traditional Chinese simplified, look-alike letters Latin."
    )
    validator: Validator | None = Field(
        None,
        description="Check a match must pass to count: luhn, payment_card (Luhn + card network ranges), "
        "cn_resident_id, us_ssn, iban, phone_cn / phone_nanp / phone_intl (libphonenumber number plans).",
    )
    group: int = Field(
        0,
        ge=0,
        description="Capture group whose span is the hit (0: the whole match). Lets a pattern match context "
        "it does not report, e.g. `(?:^|[^0-9])([0-9]{9})`.",
    )

    @field_validator("regex")
    @classmethod
    def _compiles_and_needs_text(cls, value: str) -> str:
        compiled = compile_linear(value)
        if compiled.fullmatch(""):
            raise ValueError(f"regex {value!r} matches the empty string")
        for probe in _EMPTY_MATCH_PROBES:
            if any(m.start() == m.end() for m in compiled.finditer(probe)):
                raise ValueError(f"regex {value!r} matches an empty string inside {probe!r}")
        return value

    @model_validator(mode="after")
    def _group_exists(self) -> PatternSpec:
        groups = compile_linear(self.regex).groups
        if self.group > groups:
            raise ValueError(f"regex {self.regex!r} has {groups} capture groups, so `group: {self.group}` is none")
        return self


def read_term_file(path: Path) -> tuple[list[str], list[str]]:
    """(terms, exceptions) of one term file: UTF-8, one entry per line; blank lines and lines starting
    with ``#`` are skipped; ``!phrase`` is an exception. A repeated entry (same NFKC + casefold form)
    and one that normalises to nothing are errors, reported with their line."""
    terms: list[str] = []
    exceptions: list[str] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        entry = line.strip()
        if not entry or entry.startswith(_COMMENT):
            continue
        is_exception = entry.startswith(_EXCEPTION_PREFIX)
        value = entry[1:].strip() if is_exception else entry
        where = f"{path}:{number}"
        if not compact_term(value):
            raise ValueError(f"{where}: {value!r} has no letters or digits, so it can never match")
        key = " ".join(unicodedata.normalize("NFKC", value).casefold().split())
        if (is_exception, key) in seen:
            raise ValueError(f"{where}: {value!r} repeats line {seen[is_exception, key]}")
        seen[is_exception, key] = number
        (exceptions if is_exception else terms).append(value)
    return terms, exceptions


class CategoryPolicy(_Strict):
    description: str = Field("", description="What the category covers, for reviewers.")
    terms: list[str] = Field(
        default_factory=list,
        description="Literal terms (any language), matched normalised (normalize.py); terms read from "
        "`term_files` are added here when the policy loads.",
    )
    term_files: list[str] = Field(
        default_factory=list,
        description="Term list files (one term per line, `#` comments, `!phrase` for an exception); relative "
        "paths resolve against the policy file's folder.",
    )
    exceptions: list[str] = Field(
        default_factory=list,
        description="Phrases that contain or extend a term but are not this category (an idiom: 打死你都不信; a "
        "product: 手枪钻): a term hit overlapping an exception's match does not count.",
    )
    patterns: list[PatternSpec] = Field(
        default_factory=list, description="Regex detectors, optionally checksummed; a bare string is a regex."
    )
    input: Action = Field(Action.flag, description="Action when the category fires on a user's input.")
    output: Action = Field(Action.flag, description="Action when the category fires on the model's output.")
    threshold: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Score at or above which the category fires (term/pattern hits score 1, so any threshold "
        "fires on them; fractional thresholds matter for classifier layers). A category needs a hit to fire.",
    )

    @model_validator(mode="before")
    @classmethod
    def _read_term_files(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("term_files"):
            return data
        files = data["term_files"]
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            return data  # the field's own validation reports the type error
        terms, exceptions = list(data.get("terms") or []), list(data.get("exceptions") or [])
        for name in files:
            path = Path(name)
            if not path.is_absolute():
                raise ValueError(
                    f"term file {name!r}: a relative path needs load_policy(), which resolves it against the "
                    "policy file's folder; a policy built in code must give absolute paths"
                )
            try:
                file_terms, file_exceptions = read_term_file(path)
            except OSError as exc:
                raise ValueError(f"term file {name!r} cannot be read: {exc.strerror or exc}") from exc
            terms += file_terms
            exceptions += file_exceptions
        return {**data, "terms": terms, "exceptions": exceptions}

    @field_validator("terms", "exceptions")
    @classmethod
    def _terms_match_something(cls, terms: list[str]) -> list[str]:
        for term in terms:
            if not compact_term(term):
                raise ValueError(f"term {term!r} has no letters or digits, so it can never match")
        return list(dict.fromkeys(terms))

    @field_validator("patterns", mode="before")
    @classmethod
    def _bare_regex_shorthand(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"regex": item} if isinstance(item, str) else item for item in value]
        return value

    def action(self, direction: Direction) -> Action:
        return self.input if direction == "input" else self.output


class ImagesPolicy(_Strict):
    """What the image screens flag (how they read images is the screens' configuration)."""

    nsfw: NsfwPolicy = Field(
        default_factory=NsfwPolicy,
        description="nsfwjs classes mapped onto a category, with a probability threshold per class.",
    )


_CATEGORY_NAME = re.compile(r"[a-z0-9][a-z0-9_/\-]*")


class Policy(_Strict):
    version: str = Field(min_length=1, description="Recorded on every decision; change it with every edit.")
    block_message: str = Field(min_length=1, description="Neutral text that replaces blocked content.")
    redaction_placeholder: str = Field(
        "[REDACTED]", description="Replaces each redacted span (overlapping spans are merged first)."
    )
    max_reported_spans: int = Field(
        20,
        gt=0,
        description="Most spans reported per category in a decision (keeps decisions small); "
        "redaction still covers every span.",
    )
    audit_keep_content: bool = Field(
        False, description="Store the moderated text itself in the audit log (otherwise only its SHA-256)."
    )
    scan: ScanLimits = Field(default_factory=ScanLimits, description="What one text may cost the rule layers.")
    categories: dict[str, CategoryPolicy] = Field(
        min_length=1,
        description="Category name (lower case, e.g. `sexual/minors`) -> its detectors and actions.",
    )
    images: ImagesPolicy = Field(
        default_factory=ImagesPolicy, description="Thresholds of the image screens (the NSFW classifier)."
    )

    @field_validator("categories")
    @classmethod
    def _category_names(cls, categories: dict[str, CategoryPolicy]) -> dict[str, CategoryPolicy]:
        for name in categories:
            if not _CATEGORY_NAME.fullmatch(name):
                raise ValueError(f"category name {name!r}: use lower case letters, digits, '_', '-' or '/'")
        return categories

    @model_validator(mode="after")
    def _scan_fits(self) -> Policy:
        overflow = self.scan.overflow_category
        if overflow is not None and overflow not in self.categories:
            raise ValueError(f"scan.overflow_category {overflow!r} is not a category of the policy")
        for spec in self.categories.values():
            for pattern in spec.patterns:
                compile_linear(pattern.regex, self.scan.regex_max_mem)
        if "images" in self.model_fields_set:  # a policy without the block (built in code) keeps the defaults
            self.images.nsfw.check({name: spec.threshold for name, spec in self.categories.items()})
        return self

    def with_extra_terms(self, category: str, terms: Iterable[str]) -> Policy:
        """A validated copy with customer terms added to one category (run-time `extra_terms`)."""
        if category not in self.categories:
            raise ValueError(f"unknown policy category {category!r}")
        data = self.model_dump()
        if "images" not in self.model_fields_set:  # keep "no block given" (see _scan_fits)
            del data["images"]
        data["categories"][category]["terms"] = [*data["categories"][category]["terms"], *terms]
        return Policy.model_validate(data)


def load_policy(path: str | Path) -> Policy:
    path = Path(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a policy file must be a YAML mapping")
    return Policy.model_validate(_with_absolute_term_files(data, path.resolve().parent))


def _with_absolute_term_files(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """``term_files`` entries made absolute against ``base`` (anything malformed is left to validation)."""
    categories = data.get("categories")
    if not isinstance(categories, dict):
        return data
    resolved = {}
    for name, spec in categories.items():
        files = spec.get("term_files") if isinstance(spec, dict) else None
        if isinstance(files, list):
            spec = {**spec, "term_files": [str(base / f) if isinstance(f, str) else f for f in files]}
        resolved[name] = spec
    return {**data, "categories": resolved}
