"""The policy applied to what the image screens read (``reading.py``): the text of every image and code
through the prompt's own text layers, the NSFW classes through the policy file's ``images.nsfw``.

Runs where the policy lives (the PolicyFilter, the offline job's worker), with that moderator's
engine: the image text is judged by exactly the terms, patterns and classifier the prompt is, at the
same policy version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pipelines.moderation.images.image_text import check_read, policy_checks, policy_thresholds
from pipelines.moderation.images.ocr import Quad
from pipelines.moderation.images.qr import ContactLinkDetector
from pipelines.moderation.images.reading import ImageReadConfig, ImageReading
from pipelines.moderation.policy.config import Direction
from pipelines.moderation.policy.engine import PolicyEngine
from pipelines.moderation.text.detectors import Hit

FindingSource = Literal["ocr", "code", "image", "nsfw"]
NSFW_LAYER = "nsfwjs"
UNAVAILABLE_LAYER = "unavailable"


@dataclass(frozen=True)
class ImageFinding:
    """One counted hit about an input image: ``text`` is the matched text (OCR or a code's payload), the
    NSFW class, or "" (a verdict on the whole image); ``boxes`` in the image's own pixel coordinates."""

    image_index: int
    source: FindingSource
    category: str
    score: float
    layer: str
    text: str
    boxes: tuple[Quad, ...]

    def policy_hit(self) -> Hit:
        """A whole-input hit for the policy engine: its span is in the image, not in the prompt text that
        ``PolicyEngine.decide`` would redact."""
        return Hit(self.category, 0, 0, self.score, f"image_{self.source}.{self.layer}", "")


class ImageJudge:
    """Built per policy version from that version's engine; ``judge`` is pure."""

    def __init__(
        self,
        engine: PolicyEngine,
        config: ImageReadConfig,
        unavailable_category: str,
        direction: Direction = "input",
    ) -> None:
        links = config.text.codes.links
        self.checks = policy_checks(engine, direction, ContactLinkDetector(links) if links.enabled else None)
        self.thresholds = policy_thresholds(engine.policy)
        self.nsfw = engine.policy.images.nsfw
        self.config = config
        self.unavailable_category = unavailable_category

    def unavailable(self, image_index: int) -> ImageFinding:
        """The finding for an image whose screens failed or ran out of time: the policy's fail mode."""
        return ImageFinding(image_index, "image", self.unavailable_category, 1.0, UNAVAILABLE_LAYER, "", ())

    def judge(self, reading: ImageReading) -> list[ImageFinding]:
        findings: list[ImageFinding] = []
        if reading.text is not None:
            report = check_read(reading.image_index, reading.text, self.checks, self.thresholds, self.config.text)
            findings += [
                ImageFinding(hit.image_index, hit.source, hit.category, hit.score, hit.layer, hit.text, hit.boxes)
                for hit in report.hits
            ]
        if reading.nsfw is not None:
            findings += [
                ImageFinding(reading.image_index, "nsfw", self.nsfw.category, probability, NSFW_LAYER, name, ())
                for name, probability in self.nsfw.flagged(reading.nsfw)
            ]
        return findings

    def judge_all(self, readings: Sequence[ImageReading | None]) -> list[ImageFinding]:
        """One reading per input image in order; None for an image whose screens failed."""
        findings: list[ImageFinding] = []
        for index, reading in enumerate(readings):
            findings += [self.unavailable(index)] if reading is None else self.judge(reading)
        return findings
