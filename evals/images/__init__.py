"""A generated image set for the image text screens (OCR, QR codes), deterministic from a seed.

Nothing is committed: every image is drawn here, from Debian's fonts (``fonts-wqy-microhei``,
``fonts-noto-cjk``, ``fonts-dejavu-core``, ``fonts-liberation2``) and ``segno`` QR codes, so the set
can be regenerated and extended at will. ``python -m bench.image_eval`` measures on it.

Groups (``group`` = ``kind/language``):

* ``ad/zh``, ``ad/en``: advertising lures that move buyers off the platform ("加微信 shop8899 高仿包",
  "WhatsApp +1 415 555 0132 cheap watches"), written as such ads are written, *not* from the policy's
  term lists: what the policy misses is measured, not avoided.
* ``contact/zh``, ``contact/en``: bare contact handles (a WeChat ID, a QQ number, a Telegram handle,
  a wa.me link).
* ``id_number/zh``, ``id_number/en``: Chinese resident ID numbers (valid check digits, birth years
  1880-1899 so that nobody alive holds one), mainland mobile numbers, Luhn-valid card numbers.
* ``label/zh``, ``label/en``: benign product labels: care labels, net weight and shelf life, price
  tags, ingredient lists, brand-less product names, customer-service hotlines, EAN numbers (with
  valid GTIN check digits, some under a real EAN-13 barcode).
* ``picture``: benign pictures without text (gradients, multi-scale noise, shapes on a backdrop).
* ``photo``: benign photographs without added text, from ``scikit-image``'s bundled sample images
  (public domain / CC0 / BSD, see its ``data/README.txt``); present only when scikit-image is installed.
* ``qr_contact``: QR codes of contact and short links; ``qr_benign``: QR codes of shop URLs and text.

Every positive image holds its target line plus up to two benign label lines, as an ad written on a
product photo does. Text varies in font, size (16-64 px), colour, background (plain, gradient, noise,
texture, photo), rotation (up to ±15°) and JPEG quality (PNG, 90, 70, 50, 35).
"""

from evals.images.backgrounds import PHOTO_SAMPLES, background, photo_samples
from evals.images.compose import generate, generate_one
from evals.images.fonts import FontFace, FontsMissingError, available_fonts
from evals.images.model import (
    BACKGROUNDS,
    BENIGN_GROUPS,
    EXPECTED,
    FONT_SIZES,
    GROUPS,
    JPEG_QUALITIES,
    MAX_ROTATION,
    MIN_CONTRAST,
    POSITIVE_TEXT_GROUPS,
    SIZES,
    GeneratedImage,
    Language,
    Point,
    Quad,
    RenderedLine,
)
from evals.images.render import draw_line
from evals.images.templates import TEXT_TEMPLATES, Template

__all__ = [
    "BACKGROUNDS",
    "BENIGN_GROUPS",
    "EXPECTED",
    "FONT_SIZES",
    "GROUPS",
    "JPEG_QUALITIES",
    "MAX_ROTATION",
    "MIN_CONTRAST",
    "PHOTO_SAMPLES",
    "POSITIVE_TEXT_GROUPS",
    "SIZES",
    "TEXT_TEMPLATES",
    "FontFace",
    "FontsMissingError",
    "GeneratedImage",
    "Language",
    "Point",
    "Quad",
    "RenderedLine",
    "Template",
    "available_fonts",
    "background",
    "draw_line",
    "generate",
    "generate_one",
    "photo_samples",
]
