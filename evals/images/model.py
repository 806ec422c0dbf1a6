"""The image set's groups, what each should fire, how images vary, and what an image records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from PIL import Image

Language = Literal["en", "zh", "none"]
Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]

GROUPS: tuple[str, ...] = (
    "ad/zh",
    "ad/en",
    "contact/zh",
    "contact/en",
    "id_number/zh",
    "id_number/en",
    "label/zh",
    "label/en",
    "picture",
    "photo",
    "qr_contact",
    "qr_benign",
)
POSITIVE_TEXT_GROUPS = ("ad/zh", "ad/en", "contact/zh", "contact/en", "id_number/zh", "id_number/en")
BENIGN_GROUPS = ("label/zh", "label/en", "picture", "photo", "qr_benign")
EXPECTED: dict[str, frozenset[str]] = {
    "ad": frozenset({"spam"}),
    "contact": frozenset({"spam"}),
    "id_number": frozenset({"pii"}),
    "qr_contact": frozenset({"spam"}),
}
SIZES: tuple[tuple[int, int], ...] = ((1024, 768), (1024, 768), (800, 600), (1280, 720), (768, 1024))
JPEG_QUALITIES: tuple[int | None, ...] = (None, 90, 70, 50, 35)
BACKGROUNDS = ("plain", "gradient", "noise", "texture", "photo")
MAX_ROTATION = 15.0
FONT_SIZES = (16, 20, 24, 28, 32, 40, 48, 64)
# Text is drawn with at least this luminance difference from the background under it (0-255).
MIN_CONTRAST = 100


@dataclass(frozen=True)
class RenderedLine:
    text: str
    language: Language
    quad: Quad  # where the text ink was drawn, in the final image's pixels
    font: str
    size: int
    rotation: float
    target: bool  # the line that makes the image positive (ad, contact, ID number)


@dataclass(frozen=True)
class GeneratedImage:
    id: str
    group: str
    kind: str
    language: Language
    image: Image.Image = field(repr=False)
    lines: tuple[RenderedLine, ...]
    expected: frozenset[str]  # policy categories a reviewer would assign; empty for benign images
    background: str
    jpeg_quality: int | None
    payload: str | None = None  # the QR code's payload, for the qr_* groups
    code_box: Quad | None = None

    @property
    def benign(self) -> bool:
        return not self.expected

    @property
    def rotation(self) -> float:
        """The largest rotation of any line (or of the code), in degrees."""
        return max((abs(line.rotation) for line in self.lines), default=0.0)
