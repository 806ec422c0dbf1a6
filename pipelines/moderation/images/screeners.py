"""Image screening of inputs: hits for the policy engine from a shipped detector or the VLM itself.

* The always-on screens (``read``: OCR, codes, NSFW) run apart, in the ImageScreen deployment
  (``reading.py`` reads, ``judge.py`` applies the policy, ``decision.py`` joins the decision).
* :class:`NudeNetScreener` runs ``nudenet``'s bundled ONNX detector (an optional extra: its wheel
  is labelled MIT but ships an AGPL-3.0 licence file, so it is off by default and never installed
  by ``make setup``).
* :class:`VLMQuestionScreener` asks the served VLM a policy question about the image and reads the
  category names it answers with. Off by default: it costs one generation per screened request.

A screener failure is a hit on ``unavailable_category`` (the policy's action for it is the fail
mode), never a silent pass.
"""

from __future__ import annotations

import io
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Protocol

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from pipelines.core.types import GenerationRequest, GenerationResult, ImagePart, Message, SamplingParams, TextPart
from pipelines.moderation.images.reading import ImageReadConfig
from pipelines.moderation.text.detectors import Hit

logger = logging.getLogger(__name__)

# NudeNet 3.x detector labels that are explicit nudity (covered/face/feet labels are not).
NUDENET_EXPLICIT_LABELS = (
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "BUTTOCKS_EXPOSED",
)

DEFAULT_QUESTION = (
    "You are a content moderator. Which of these categories does the image show: {categories}? "
    "Answer with the matching category names separated by commas, or with none."
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NudeNetConfig(_Strict):
    enabled: bool = Field(False, description="Needs the AGPL-3.0 `nudenet` extra (`pip install nudenet`).")
    category: str = Field("sexual", description="Policy category for explicit detections.")
    labels: list[str] = Field(
        default_factory=lambda: list(NUDENET_EXPLICIT_LABELS),
        description="NudeNet detector classes that count as explicit (covered and face classes do not).",
    )
    min_score: float = Field(0.45, ge=0.0, le=1.0, description="Detections below this confidence are ignored.")


class VLMQuestionConfig(_Strict):
    enabled: bool = Field(False, description="Ask the served VLM about every input image (one generation each).")
    question: str = Field(DEFAULT_QUESTION, description="`{categories}` is replaced by the asked categories.")
    categories: list[str] = Field(
        default_factory=lambda: ["sexual", "sexual/minors", "violence", "hate/harassment", "self-harm", "illegal"],
        description="Policy categories the question asks about; the answer is matched against these names.",
    )
    max_tokens: int = Field(24, gt=0, description="Generation budget for the answer.")


class ImageScreenConfig(_Strict):
    read: ImageReadConfig = Field(
        default_factory=ImageReadConfig,
        description="The always-on screens (OCR, QR codes and barcodes, NSFW classes), run by the ImageScreen "
        "deployment once per image; what they flag is the policy's (`images` and the text categories).",
    )
    deadline_s: float = Field(
        4.0,
        gt=0.0,
        description="Per-image time for an ImageScreen call, queueing included; past it (or on any failure) the "
        "image is a hit on `unavailable_category`. Keep it above `read.text.deadline_s`.",
    )
    nudenet: NudeNetConfig = Field(default_factory=NudeNetConfig)
    vlm_question: VLMQuestionConfig = Field(default_factory=VLMQuestionConfig)
    unavailable_category: str = Field(
        "screen_unavailable", description="Policy category hit (score 1) when a screener fails."
    )


class ImageScreener(Protocol):
    name: str

    def screen(self, images: Sequence[Image.Image]) -> list[Hit]:
        """Whole-input hits (``start == end == 0``) in policy category names."""
        ...


class NudeNetScreener:
    name = "nudenet"

    def __init__(self, config: NudeNetConfig) -> None:
        try:
            from nudenet import NudeDetector
        except ImportError as exc:
            raise RuntimeError(
                "image screening with nudenet is enabled but the optional `nudenet` extra (AGPL-3.0) is not installed"
            ) from exc
        self.config = config
        self.detector = NudeDetector()

    def screen(self, images: Sequence[Image.Image]) -> list[Hit]:
        best = 0.0
        for image in images:
            encoded = io.BytesIO()
            image.save(encoded, format="PNG")  # NudeDetector decodes bytes itself (OpenCV)
            detections = self.detector.detect(encoded.getvalue())
            scores = [d["score"] for d in detections if d.get("class") in self.config.labels]
            best = max([best, *scores])
        if best < self.config.min_score:
            return []
        return [Hit(self.config.category, 0, 0, float(best), self.name, "")]


Generate = Callable[[list[GenerationRequest]], list[GenerationResult]]


class VLMQuestionScreener:
    """One greedy generation per image; every asked category named in the answer is a hit (score 1)."""

    name = "vlm_question"

    def __init__(self, config: VLMQuestionConfig, generate: Generate) -> None:
        self.config = config
        self.generate = generate
        # longest first, so "sexual/minors" is read before "sexual"
        names = sorted(config.categories, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(n) for n in names), re.IGNORECASE) if names else None

    def requests(self, images: Sequence[Image.Image]) -> list[GenerationRequest]:
        question = self.config.question.format(categories=", ".join(self.config.categories))
        return [
            GenerationRequest(
                request_id=f"screen-{uuid.uuid4().hex}",
                messages=[Message("user", [ImagePart(image, "image/png", 0), TextPart(question)])],
                params=SamplingParams(max_tokens=self.config.max_tokens),
            )
            for image in images
        ]

    def screen(self, images: Sequence[Image.Image]) -> list[Hit]:
        answers = self.generate(self.requests(images))
        named: set[str] = set()
        for answer in answers:
            named |= self.categories_in(answer.text)
        return [Hit(category, 0, 0, 1.0, self.name, "") for category in sorted(named)]

    def categories_in(self, answer: str) -> set[str]:
        if self._pattern is None:
            return set()
        lookup = {n.casefold(): n for n in self.config.categories}
        return {lookup[m.group().casefold()] for m in self._pattern.finditer(answer)}


class GuardedScreener:
    """Turns a screener's exception into a hit on the unavailable category (the policy's fail mode)."""

    def __init__(self, inner: ImageScreener, unavailable_category: str) -> None:
        self.inner = inner
        self.name = inner.name
        self.unavailable_category = unavailable_category
        self.failures = 0

    def screen(self, images: Sequence[Image.Image]) -> list[Hit]:
        try:
            return self.inner.screen(images)
        except Exception as exc:  # noqa: BLE001 - any screener failure is an outage, handled by the fail mode
            self.failures += 1
            logger.error("image screener %s failed: %s: %s", self.name, type(exc).__name__, exc)
            return [Hit(self.unavailable_category, 0, 0, 1.0, self.name, "")]


def build_image_screeners(config: ImageScreenConfig, generate: Generate | None) -> list[ImageScreener]:
    screeners: list[ImageScreener] = []
    if config.nudenet.enabled:
        screeners.append(NudeNetScreener(config.nudenet))
    if config.vlm_question.enabled:
        if generate is None:
            raise ValueError("vlm_question screening needs a VLM to ask")
        screeners.append(VLMQuestionScreener(config.vlm_question, generate))
    return [GuardedScreener(s, config.unavailable_category) for s in screeners]
