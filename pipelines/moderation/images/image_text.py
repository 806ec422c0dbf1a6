"""The text in an image (OCR lines, QR and barcode payloads) through the prompt's text layers, with
every hit traced back to the image, the line or code, and its box.

Decisions:

* An image's OCR lines are joined into one text in reading order, a space between lines of one row
  and a newline between rows, so a term broken over two lines ("加微" / "信") or two boxes of one row
  is still one match for the term layer (which ignores separators) and the patterns (whose ``\\s``
  spans the break). Each hit's span is then mapped back to the lines it covers.
* The joined text is screened twice when :func:`ocr_misreadings` changes it: as read, and with the
  recogniser's systematic misreadings undone (an underscore in a handle read as a space, ``$`` read as
  ``s``). The second copy has the same length, so its hits map to the same lines; undoing a
  misreading that was not one can only lose matches of that copy, and the text as read still has them.
* Each code's payload is screened on its own: two codes' payloads are not one message.
* A hit about a whole text (a classifier's verdict, ``start == end``) covers every line.
* Hits go to the policy engine as whole-input hits (``start == end == 0``), like every image
  screener's: their spans are offsets into the OCR text, not into the prompt that
  ``PolicyEngine.decide`` redacts, so they must not become redaction spans there. The provenance
  (image, lines, boxes, matched text) stays in :class:`ImageTextHit` for the response.
* A read the deadline or a cap cut short is reported (``complete=False``) and, by default, is also
  a hit on ``screen_unavailable``: text left unread has not passed the policy, and that category's
  action is the service's fail mode for image screening.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from pipelines.moderation.images.ocr import OcrConfig, OcrLine, OcrScreen, Quad, to_bgr
from pipelines.moderation.images.qr import CodeConfig, CodeScreen, ContactLinkDetector, DecodedCode
from pipelines.moderation.policy.config import Direction, Policy
from pipelines.moderation.policy.engine import PolicyEngine
from pipelines.moderation.text.detectors import Hit

TextCheck = Callable[[str], Sequence[Hit]]
Source = Literal["ocr", "code", "image"]  # "image": about the whole image (an incomplete read)

_ROW_SEPARATOR = "\n"
_LINE_SEPARATOR = " "


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImageTextConfig(_Strict):
    """Reading and screening the text of each input image."""

    ocr: OcrConfig = Field(default_factory=OcrConfig)
    codes: CodeConfig = Field(default_factory=CodeConfig)
    max_source_pixels: int = Field(
        12_000_000,
        gt=0,
        description="Larger uploads are first box-shrunk by an integer factor to at most this many pixels "
        "(one conversion shared by both screens; boxes are scaled back): bounds the memory and time spent "
        "before any model runs. OCR reads text lines from this source at full resolution.",
    )
    deadline_s: float = Field(
        2.0,
        gt=0.0,
        description="Per-image time budget shared by codes, then OCR (each also keeps its own); the caller's "
        "deadline wins when sooner. No stage starts past it; one running stage finishes.",
    )
    incomplete_category: str | None = Field(
        "screen_unavailable",
        description="Policy category hit (score 1) when an image's text could not all be read (deadline, "
        "too many lines or codes); its action is the fail mode. null: screen what was read and say nothing.",
    )


@dataclass(frozen=True)
class JoinedText:
    text: str
    spans: tuple[tuple[int, int], ...]  # [start, end) of each line in ``text``


@dataclass(frozen=True)
class ImageTextHit:
    """A policy hit on text found in an image. ``lines``: indices into the image's OCR lines (source
    ``ocr``) or its decoded codes (source ``code``); ``boxes``: theirs, in original pixel coordinates;
    ``text``: the matched text ("" for a verdict on the whole text)."""

    image_index: int
    source: Source
    category: str
    score: float
    layer: str
    text: str
    lines: tuple[int, ...]
    boxes: tuple[Quad, ...]

    def policy_hit(self) -> Hit:
        """As a whole-input hit for ``PolicyEngine.decide`` (see the module docstring)."""
        return Hit(self.category, 0, 0, self.score, f"image_{self.source}.{self.layer}", "")


@dataclass(frozen=True)
class ImageTextRead:
    """What was read from one image before any policy: picklable, so the ImageScreen deployment can
    return it and the PolicyFilter screen it with its own policy."""

    lines: tuple[OcrLine, ...]
    codes: tuple[DecodedCode, ...]
    complete: bool
    ocr_s: float
    codes_s: float


@dataclass(frozen=True)
class ImageTextReport:
    image_index: int
    lines: tuple[OcrLine, ...]
    codes: tuple[DecodedCode, ...]
    hits: tuple[ImageTextHit, ...]
    complete: bool
    ocr_s: float
    codes_s: float
    text_s: float

    def policy_hits(self) -> list[Hit]:
        return [hit.policy_hit() for hit in self.hits]


def bounded_source(image: Image.Image | np.ndarray, max_pixels: int) -> tuple[Image.Image | np.ndarray, int]:
    """The image box-shrunk by the smallest integer factor that brings it within ``max_pixels``, and that
    factor (1: unchanged). An integer box filter is the cheapest resize there is and keeps strokes sharp."""
    height, width = (image.height, image.width) if isinstance(image, Image.Image) else image.shape[:2]
    factor = max(1, math.ceil(math.sqrt(width * height / max_pixels)))
    if factor == 1:
        return image, 1
    if isinstance(image, Image.Image):
        return image.reduce(factor), factor
    import cv2

    size = (max(1, width // factor), max(1, height // factor))
    return cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_AREA), factor


def _scaled(box: Quad, factor: int) -> Quad:
    (a, b, c, d) = ((x * factor, y * factor) for x, y in box)
    return (a, b, c, d)


def join_lines(lines: Sequence[OcrLine]) -> JoinedText:
    """Lines (in reading order) as one text: a space within a row, a newline between rows."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    cursor = 0
    for index, line in enumerate(lines):
        if index:
            separator = _LINE_SEPARATOR if line.row == lines[index - 1].row else _ROW_SEPARATOR
            parts.append(separator)
            cursor += len(separator)
        parts.append(line.text)
        spans.append((cursor, cursor + len(line.text)))
        cursor += len(line.text)
    return JoinedText("".join(parts), tuple(spans))


# A space the recogniser read where an underscore joins a handle ("bag_vip61956" read "bag vip61956",
# "bag- vip61956": the low stroke looks like a gap): a word, one space, then a token with a digit.
_SPLIT_HANDLE = re.compile(r"(?<![A-Za-z0-9_])([A-Za-z]{1,20}[-_]?) (?=[-_]?[A-Za-z0-9]{0,40}[0-9])")
# A dollar sign read as s or S right before a number ("Only s9.99!!!").
_DOLLAR_AS_S = re.compile(r"(?<![A-Za-z0-9_])[sS](?=[0-9])")


def ocr_misreadings(text: str) -> str:
    """``text`` with the recogniser's systematic misreadings undone, character for character (same
    length, so a hit's span is a span of ``text`` too): an underscore read as a space inside a handle,
    a dollar sign read as s. The screens check both texts; a misreading undone where there was none
    ("Mobile 16026908128" -> "Mobile_16026908128") only loses matches of this copy, never of the text
    as read."""
    priced = _DOLLAR_AS_S.sub("$", text)
    return _SPLIT_HANDLE.sub(lambda match: match.group(1) + "_", priced)


def lines_of_span(joined: JoinedText, start: int, end: int) -> tuple[int, ...]:
    """The lines a [start, end) span of the joined text overlaps; every line for a whole-text span."""
    if end <= start:
        return tuple(range(len(joined.spans)))
    return tuple(i for i, (line_start, line_end) in enumerate(joined.spans) if line_start < end and start < line_end)


def policy_thresholds(policy: Policy) -> dict[str, float]:
    """Each category's firing threshold: hits below it do not count, so they are not reported."""
    return {name: spec.threshold for name, spec in policy.categories.items()}


def _counts(hit: Hit, thresholds: Mapping[str, float] | None) -> bool:
    if thresholds is None:
        return True
    return hit.category in thresholds and hit.score >= thresholds[hit.category]


def _run_checks(text: str, checks: Sequence[TextCheck], thresholds: Mapping[str, float] | None) -> list[Hit]:
    return [hit for check in checks for hit in check(text) if _counts(hit, thresholds)]


def screen_ocr_lines(
    image_index: int,
    lines: Sequence[OcrLine],
    checks: Sequence[TextCheck],
    thresholds: Mapping[str, float] | None = None,
) -> list[ImageTextHit]:
    """Hits on an image's OCR text (joined in reading order), each traced to its lines and boxes."""
    if not lines:
        return []
    joined = join_lines(lines)
    found = _run_checks(joined.text, checks, thresholds)
    misread = ocr_misreadings(joined.text)
    if misread != joined.text:
        found += _run_checks(misread, checks, thresholds)
    hits = []
    for hit in found:
        covered = lines_of_span(joined, hit.start, hit.end)
        hits.append(
            ImageTextHit(
                image_index=image_index,
                source="ocr",
                category=hit.category,
                score=hit.score,
                layer=hit.layer,
                text=joined.text[hit.start : hit.end],
                lines=covered,
                boxes=tuple(lines[i].box for i in covered),
            )
        )
    return _deduplicated(hits)


def screen_codes(
    image_index: int,
    codes: Sequence[DecodedCode],
    checks: Sequence[TextCheck],
    thresholds: Mapping[str, float] | None = None,
    *,
    screen_retail_numbers: bool = False,
) -> list[ImageTextHit]:
    """Hits on each code's payload, traced to the code and its box."""
    hits = []
    for index, code in enumerate(codes):
        if code.retail_number and not screen_retail_numbers:
            continue
        for hit in _run_checks(code.payload, checks, thresholds):
            text = code.payload[hit.start : hit.end] if hit.end > hit.start else ""
            hits.append(
                ImageTextHit(image_index, "code", hit.category, hit.score, hit.layer, text, (index,), (code.box,))
            )
    return _deduplicated(hits)


def _deduplicated(hits: list[ImageTextHit]) -> list[ImageTextHit]:
    """One hit per (category, layer, lines, text), the best score kept (layers may repeat themselves,
    e.g. two overlapping patterns of one category on the same number)."""
    best: dict[tuple[str, str, tuple[int, ...], str], ImageTextHit] = {}
    for hit in hits:
        key = (hit.category, hit.layer, hit.lines, hit.text)
        if key not in best or hit.score > best[key].score:
            best[key] = hit
    return list(best.values())


def policy_checks(
    engine: PolicyEngine, direction: Direction = "input", links: ContactLinkDetector | None = None
) -> list[TextCheck]:
    """The prompt's text layers (terms, patterns, classifiers: ``engine.detect``) plus, when given and
    not already one of the engine's layers, the contact-link detector."""

    def detect(text: str) -> Sequence[Hit]:
        return engine.detect(text, direction)

    checks: list[TextCheck] = [detect]
    if links is not None and all(layer.name != links.name for layer in engine.layers):
        checks.append(links.find)
    return checks


class ImageTextScreen:
    """OCR and code decoding of one image, then its text through the given checks. Serve-free: the
    ImageScreen deployment and the Ray Data job hold one per replica/worker. Not thread-safe (see
    :class:`OcrScreen`)."""

    def __init__(
        self,
        config: ImageTextConfig,
        checks: Sequence[TextCheck],
        thresholds: Mapping[str, float] | None = None,
    ) -> None:
        self.config = config
        self.checks = list(checks)
        self.thresholds = thresholds
        self.ocr = OcrScreen(config.ocr) if config.ocr.enabled else None
        self.codes = CodeScreen(config.codes) if config.codes.enabled else None

    @classmethod
    def for_engine(
        cls, config: ImageTextConfig, engine: PolicyEngine, direction: Direction = "input"
    ) -> ImageTextScreen:
        """Screened like a prompt in ``direction``, plus contact links when codes are on."""
        links = ContactLinkDetector(config.codes.links) if config.codes.links.enabled else None
        return cls(config, policy_checks(engine, direction, links), policy_thresholds(engine.policy))

    def read(self, image: Image.Image | np.ndarray, deadline: float | None = None) -> ImageTextRead:
        """The codes and text lines of one image, no policy applied (the ImageScreen deployment's part).
        ``deadline``: a ``time.monotonic()`` instant for the whole image (codes and OCR share it)."""
        own = time.monotonic() + self.config.deadline_s
        deadline = own if deadline is None else min(deadline, own)
        lines: tuple[OcrLine, ...] = ()
        codes: tuple[DecodedCode, ...] = ()
        complete = True
        ocr_s = codes_s = 0.0
        source, factor = bounded_source(image, self.config.max_source_pixels)
        pixels = to_bgr(source) if self.codes is not None or self.ocr is not None else None
        if self.codes is not None and pixels is not None:
            result = self.codes.read_bgr(pixels, deadline)
            codes, complete, codes_s = result.codes, result.complete, result.elapsed_s
        if self.ocr is not None and pixels is not None:
            read = self.ocr.read_bgr(pixels, deadline)
            lines, complete, ocr_s = read.lines, complete and read.complete, read.elapsed_s
        if factor != 1:
            lines = tuple(replace(line, box=_scaled(line.box, factor)) for line in lines)
            codes = tuple(replace(code, box=_scaled(code.box, factor)) for code in codes)
        return ImageTextRead(lines, codes, complete, ocr_s, codes_s)

    def check(self, image_index: int, read: ImageTextRead) -> ImageTextReport:
        return check_read(image_index, read, self.checks, self.thresholds, self.config)

    def screen(
        self, image: Image.Image | np.ndarray, image_index: int = 0, deadline: float | None = None
    ) -> ImageTextReport:
        """:meth:`read`, then :meth:`check`: one image through OCR, codes and the text checks."""
        return self.check(image_index, self.read(image, deadline))


def check_read(
    image_index: int,
    read: ImageTextRead,
    checks: Sequence[TextCheck],
    thresholds: Mapping[str, float] | None,
    config: ImageTextConfig,
) -> ImageTextReport:
    """An image's read text through the checks (the PolicyFilter's part: no OCR model needed here)."""
    started = time.monotonic()
    hits = screen_ocr_lines(image_index, read.lines, checks, thresholds)
    hits += screen_codes(
        image_index, read.codes, checks, thresholds, screen_retail_numbers=config.codes.screen_retail_numbers
    )
    if not read.complete and config.incomplete_category is not None:
        hits.append(ImageTextHit(image_index, "image", config.incomplete_category, 1.0, "incomplete", "", (), ()))
    return ImageTextReport(
        image_index,
        read.lines,
        read.codes,
        tuple(hits),
        read.complete,
        read.ocr_s,
        read.codes_s,
        time.monotonic() - started,
    )
