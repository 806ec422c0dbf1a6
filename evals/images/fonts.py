"""The Debian fonts the images are drawn with."""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import ImageFont

from evals.images.model import Language

_FONT_CANDIDATES: tuple[tuple[str, str, int, bool], ...] = (
    # (name, path, face index in a collection, covers CJK)
    ("wqy-microhei", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0, True),
    ("noto-sans-sc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2, True),
    ("noto-sans-sc-bold", "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2, True),
    ("noto-serif-sc", "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2, True),
    ("dejavu-sans", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0, False),
    ("dejavu-serif", "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", 0, False),
    ("dejavu-sans-bold", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 0, False),
    ("liberation-sans", "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf", 0, False),
    ("liberation-serif", "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf", 0, False),
    ("liberation-mono", "/usr/share/fonts/truetype/liberation2/LiberationMono-Regular.ttf", 0, False),
)


class FontsMissingError(RuntimeError):
    """The Debian font packages are not installed (``make setup`` installs them)."""


@dataclass(frozen=True)
class FontFace:
    name: str
    path: str
    index: int
    cjk: bool

    def at(self, size: int) -> ImageFont.FreeTypeFont:
        return _load_font(self.path, self.index, size)


@cache
def _load_font(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, index=index)


@cache
def available_fonts() -> tuple[FontFace, ...]:
    fonts = tuple(FontFace(*spec) for spec in _FONT_CANDIDATES if Path(spec[1]).is_file())
    if not any(f.cjk for f in fonts) or all(f.cjk for f in fonts):
        raise FontsMissingError(
            "the image eval needs a CJK font (fonts-wqy-microhei or fonts-noto-cjk) and a Latin one "
            "(fonts-dejavu-core or fonts-liberation2) from Debian's packages: run `make setup`"
        )
    return fonts


def face_for(language: Language, rng: random.Random) -> FontFace:
    fonts = available_fonts()
    pool = [f for f in fonts if f.cjk] if language == "zh" else list(fonts)
    return rng.choice(pool)
