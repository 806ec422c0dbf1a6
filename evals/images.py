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

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from evals.labelled import card_number, group4, phone_344, phone_number, resident_id

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
# scikit-image samples that are photographs without text of their own.
PHOTO_SAMPLES = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle_left", "brick", "grass", "gravel")

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


# --- line templates ---------------------------------------------------------------------------------

Template = Callable[[random.Random], str]

_HANDLE_WORDS = ("shop", "bag", "lucky", "vip", "outlet", "mall", "star", "amy", "kk", "best", "good", "tao")


def handle(rng: random.Random) -> str:
    """A contact handle as sellers write them: a word, digits, sometimes an underscore or a second word."""
    word = rng.choice(_HANDLE_WORDS)
    if rng.random() < 0.4:
        word += rng.choice(("_", "")) + rng.choice(_HANDLE_WORDS)
    return word + str(rng.randint(10, 99999))


def qq_number(rng: random.Random) -> str:
    return str(rng.randint(10_000_000, 3_999_999_999))


def us_phone(rng: random.Random) -> str:
    return f"+1 {rng.randint(201, 989)} 555 {rng.randint(100, 199):04d}"


def uk_phone(rng: random.Random) -> str:
    return f"+44 7700 900{rng.randint(0, 999):03d}"


def ean13(rng: random.Random) -> str:
    """A GS1 EAN-13 number with a valid check digit (Chinese prefix 690-699)."""
    body = str(rng.randint(690, 699)) + "".join(rng.choice("0123456789") for _ in range(9))
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


AD_ZH: tuple[Template, ...] = (
    lambda r: f"加微信 {handle(r)} 高仿包",
    lambda r: f"扫码进群领红包 QQ群 {qq_number(r)}",
    lambda r: f"一手货源 加V：{handle(r)}",
    lambda r: "原单大牌 私聊领取优惠券",
    lambda r: f"兼职刷单 日赚500 加QQ {qq_number(r)}",
    lambda r: f"低价代购 微信 {handle(r)} 包邮",
    lambda r: f"工厂直销 加我微信 {handle(r)} 拿批发价",
    lambda r: f"福利群 电报群 t.me/{handle(r)}",
    lambda r: f"限时特惠 仅需99元！！ 加微信 {handle(r)}",
    lambda r: f"奢侈品A货 微信号 {handle(r)}",
)
AD_EN: tuple[Template, ...] = (
    lambda r: f"WhatsApp {us_phone(r)} cheap watches",
    lambda r: f"Replica bags 90% off, add WeChat {handle(r)}",
    lambda r: f"Join our Telegram group for free gifts t.me/{handle(r)}",
    lambda r: f"DM me on Telegram @{handle(r)} for wholesale prices",
    lambda r: "Only $9.99!!! Order now before it's gone",
    lambda r: f"Earn $500 a day, text {uk_phone(r)} on WhatsApp",
    lambda r: f"Add me on WeChat {handle(r)} for the real price",
    lambda r: f"Cheap designer shoes, WhatsApp me {us_phone(r)}",
    lambda r: f"Factory direct, contact wa.me/1415555{r.randint(1000, 9999)}",
    lambda r: f"Free sample! Scan and add QQ {qq_number(r)}",
)
CONTACT_ZH: tuple[Template, ...] = (
    lambda r: f"微信号：{handle(r)}",
    lambda r: f"VX：{handle(r)}",
    lambda r: f"QQ：{qq_number(r)}",
    lambda r: f"客服微信 {handle(r)}",
    lambda r: f"电报 @{handle(r)}",
    lambda r: f"添加好友 微信 {handle(r)}",
    lambda r: f"联系我 wx：{handle(r)}",
    lambda r: f"QQ群号 {qq_number(r)}",
)
CONTACT_EN: tuple[Template, ...] = (
    lambda r: f"WeChat ID: {handle(r)}",
    lambda r: f"WhatsApp: {us_phone(r)}",
    lambda r: f"Telegram: @{handle(r)}",
    lambda r: f"t.me/{handle(r)}",
    lambda r: f"Line ID: {handle(r)}",
    lambda r: f"wa.me/4477009{r.randint(10000, 99999)}",
    lambda r: f"QQ: {qq_number(r)}",
    lambda r: f"Contact on WeChat {handle(r)}",
)
ID_ZH: tuple[Template, ...] = (
    lambda r: f"身份证号：{resident_id(r)}",
    lambda r: f"公民身份号码 {resident_id(r)}",
    lambda r: f"手机：{phone_344(phone_number(r))}",
    lambda r: f"联系电话 {phone_number(r)}",
    lambda r: f"银行卡号 {group4(card_number(r, '622202', 19))}",
    lambda r: f"收货人 张三 {phone_number(r)}",
)
ID_EN: tuple[Template, ...] = (
    lambda r: f"ID No. {resident_id(r)}",
    lambda r: f"Phone: +86 {phone_344(phone_number(r))}",
    lambda r: f"Mobile {phone_number(r)}",
    lambda r: f"Card {group4(card_number(r, '4', 16))}",
    lambda r: f"Call {phone_344(phone_number(r), '-')}",
    lambda r: f"Resident ID {resident_id(r)}",
)
LABEL_ZH: tuple[Template, ...] = (
    lambda r: f"净含量 {r.choice((250, 500, 750, 1000))}g 保质期 {r.choice((6, 12, 18, 24))}个月",
    lambda r: "配料：水、白砂糖、柠檬酸、食用香精",
    lambda r: r.choice(("产地：浙江杭州", "产地：广东深圳", "产地：山东青岛")),
    lambda r: f"生产日期 2025-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    lambda r: "贮存条件：阴凉干燥处",
    lambda r: f"纯棉短袖T恤 {r.choice(('白色', '黑色', '藏青'))} {r.choice('SMLX')}码",
    lambda r: f"价格 ¥{r.randint(9, 999)}.{r.choice(('00', '90', '99'))}",
    lambda r: f"限时特价 ¥{r.randint(9, 99)}.9",
    lambda r: "执行标准 GB/T 22849",
    lambda r: "客服热线 400-820-8820",
    lambda r: "成分：棉100%",
    lambda r: "洗涤方式：手洗 不可漂白",
    lambda r: "新品上市 买一送一",
    lambda r: f"条码 {ean13(r)}",
    lambda r: f"不锈钢保温杯 {r.choice((350, 500, 750))}ml",
)
LABEL_EN: tuple[Template, ...] = (
    lambda r: f"100% cotton, machine wash {r.choice((30, 40))}°C",
    lambda r: f"Net wt. {r.choice((250, 500, 750))} g",
    lambda r: f"Best before {r.randint(1, 12):02d}/2026",
    lambda r: "Ingredients: water, sugar, citric acid, natural flavour",
    lambda r: f"Price ${r.randint(5, 199)}.{r.choice(('00', '49', '99'))}",
    lambda r: f"SALE {r.choice((10, 20, 30, 50))}% OFF",
    lambda r: "Made in China",
    lambda r: f"Size {r.choice('SMLX')} / Colour {r.choice(('navy', 'white', 'black', 'olive'))}",
    lambda r: f"Stainless steel water bottle {r.choice((500, 750))} ml",
    lambda r: "Store in a cool, dry place",
    lambda r: "Do not bleach. Tumble dry low.",
    lambda r: f"Model KX-{r.randint(100, 9999)} 220V~50Hz {r.choice((800, 1200, 2000))}W",
    lambda r: f"Batch 2025{r.randint(1, 12):02d}{r.randint(1, 28):02d}",
    lambda r: "Keep out of reach of children",
    lambda r: f"EAN {ean13(r)}",
)
TEXT_TEMPLATES: dict[str, tuple[Template, ...]] = {
    "ad/zh": AD_ZH,
    "ad/en": AD_EN,
    "contact/zh": CONTACT_ZH,
    "contact/en": CONTACT_EN,
    "id_number/zh": ID_ZH,
    "id_number/en": ID_EN,
    "label/zh": LABEL_ZH,
    "label/en": LABEL_EN,
}
QR_CONTACT: tuple[Template, ...] = (
    lambda r: f"https://wa.me/1415555{r.randint(1000, 9999)}",
    lambda r: f"https://api.whatsapp.com/send?phone=4477009{r.randint(10000, 99999)}",
    lambda r: f"https://chat.whatsapp.com/{_token(r, 22)}",
    lambda r: f"https://t.me/{handle(r)}",
    lambda r: f"tg://resolve?domain={handle(r)}",
    lambda r: f"https://telegram.me/{handle(r)}",
    lambda r: f"weixin://dl/chat?{handle(r)}",
    lambda r: f"https://u.wechat.com/{_token(r, 24)}",
    lambda r: f"http://weixin.qq.com/r/{_token(r, 20)}",
    lambda r: f"https://qm.qq.com/q/{_token(r, 10)}",
    lambda r: f"https://jq.qq.com/?_wv=1027&k={_token(r, 8)}",
    lambda r: f"https://line.me/ti/p/{_token(r, 10)}",
    lambda r: f"https://bit.ly/{_token(r, 7)}",
    lambda r: f"http://t.cn/{_token(r, 7)}",
    lambda r: f"https://tinyurl.com/{_token(r, 8)}",
    lambda r: f"https://is.gd/{_token(r, 6)}",
)
QR_BENIGN: tuple[Template, ...] = (
    lambda r: f"https://www.example.com/product/{r.randint(10000, 99999)}",
    lambda r: f"https://shop.example.org/item?id={r.randint(100000, 999999)}&ref=label",
    lambda r: f"SN:{_token(r, 5).upper()}-{r.randint(10000, 99999)}",
    lambda r: "Thank you for your purchase. Care: machine wash 30C.",
    lambda r: f"https://example.net/manuals/KX-{r.randint(100, 9999)}.pdf",
    lambda r: "感谢您的购买，请妥善保管保修卡",
    lambda r: f"https://www.example.cn/trace?batch=2025{r.randint(1, 12):02d}{r.randint(1, 28):02d}",
)

_TOKEN_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _token(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_TOKEN_ALPHABET) for _ in range(length))


# --- backgrounds -------------------------------------------------------------------------------------


def _random_colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))


def _gradient(size: tuple[int, int], rng: random.Random) -> np.ndarray:
    width, height = size
    angle = rng.uniform(0, 2 * math.pi)
    xs, ys = np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
    t = xs[None, :] * math.cos(angle) + ys[:, None] * math.sin(angle)
    t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
    a, b = np.array(_random_colour(rng), np.float32), np.array(_random_colour(rng), np.float32)
    return a + (b - a) * t[..., None]


def _value_noise(size: tuple[int, int], nprng: np.random.Generator, octaves: int = 5) -> np.ndarray:
    """Multi-scale smooth noise in [0, 1]: a cheap stand-in for photographic texture."""
    width, height = size
    total = np.zeros((height, width), np.float32)
    weight_sum = 0.0
    for octave in range(octaves):
        cells = 2 ** (octave + 2)
        grid = Image.fromarray((nprng.random((cells, cells)) * 255).astype(np.uint8))
        layer = np.asarray(grid.resize((width, height), Image.Resampling.BICUBIC), np.float32) / 255
        weight = 0.55**octave
        total += weight * layer
        weight_sum += weight
    return total / weight_sum


def _photo_sample(name: str) -> Image.Image | None:
    try:
        from skimage import data
    except ImportError:
        return None
    loader = getattr(data, name, None)
    if loader is None:
        return None
    pixels = np.asarray(loader())
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    return Image.fromarray(pixels[..., :3].astype(np.uint8))


@cache
def photo_samples() -> tuple[str, ...]:
    """The scikit-image samples available here (none when scikit-image is not installed)."""
    return tuple(name for name in PHOTO_SAMPLES if _photo_sample(name) is not None)


def _cover(photo: Image.Image, size: tuple[int, int], rng: random.Random) -> Image.Image:
    """The photo scaled to cover ``size`` and cropped at a random offset."""
    scale = max(size[0] / photo.width, size[1] / photo.height) * rng.uniform(1.0, 1.3)
    scaled = photo.resize((math.ceil(photo.width * scale), math.ceil(photo.height * scale)), Image.Resampling.BICUBIC)
    left = rng.randint(0, scaled.width - size[0])
    top = rng.randint(0, scaled.height - size[1])
    return scaled.crop((left, top, left + size[0], top + size[1]))


def background(kind: str, size: tuple[int, int], rng: random.Random, nprng: np.random.Generator) -> Image.Image:
    width, height = size
    if kind == "plain":
        return Image.new("RGB", size, _random_colour(rng))
    if kind == "gradient":
        return Image.fromarray(_gradient(size, rng).clip(0, 255).astype(np.uint8))
    if kind == "noise":
        base = np.full((height, width, 3), _random_colour(rng), np.float32)
        base += nprng.normal(0, rng.uniform(8, 25), (height, width, 3)).astype(np.float32)
        return Image.fromarray(base.clip(0, 255).astype(np.uint8))
    if kind == "texture":
        t = _value_noise(size, nprng)[..., None]
        a, b = np.array(_random_colour(rng), np.float32), np.array(_random_colour(rng), np.float32)
        return Image.fromarray((a + (b - a) * t).clip(0, 255).astype(np.uint8))
    if kind == "photo":
        names = photo_samples()
        if names:
            sample = _photo_sample(rng.choice(names))
            if sample is not None:
                return _cover(sample, size, rng)
        return background("texture", size, rng, nprng)
    raise ValueError(f"unknown background {kind!r}")


def _picture(size: tuple[int, int], rng: random.Random, nprng: np.random.Generator) -> Image.Image:
    """A benign picture without text: a backdrop with a few soft shapes (a product shot's blobs)."""
    image = background(rng.choice(("gradient", "texture", "noise")), size, rng, nprng)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(1, 5)):
        x0, y0 = rng.randint(0, size[0] - 40), rng.randint(0, size[1] - 40)
        x1, y1 = rng.randint(x0 + 30, size[0]), rng.randint(y0 + 30, size[1])
        shape = rng.choice(("ellipse", "rounded", "polygon"))
        colour = _random_colour(rng)
        if shape == "ellipse":
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == "rounded":
            draw.rounded_rectangle((x0, y0, x1, y1), radius=rng.randint(4, 40), fill=colour)
        else:
            points = [(rng.randint(x0, x1), rng.randint(y0, y1)) for _ in range(rng.randint(3, 6))]
            draw.polygon(points, fill=colour)
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0, 2.5)))


# --- text rendering ----------------------------------------------------------------------------------


def _luminance(colour: Sequence[float]) -> float:
    return 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]


def _text_colour(under: Image.Image, rng: random.Random) -> tuple[tuple[int, int, int], float]:
    """A random colour at least MIN_CONTRAST from the mean luminance under the text; and that luminance."""
    mean = np.asarray(under, np.float32).reshape(-1, 3).mean(axis=0)
    base = _luminance(mean)
    for _ in range(64):
        colour = _random_colour(rng)
        if abs(_luminance(colour) - base) >= MIN_CONTRAST:
            return colour, base
    return ((0, 0, 0) if base > 127 else (255, 255, 255)), base


def _fit_font(face: FontFace, text: str, size: int, max_width: int) -> tuple[ImageFont.FreeTypeFont, int]:
    while size > FONT_SIZES[0]:
        font = face.at(size)
        if font.getlength(text) <= max_width:
            return font, size
        size -= 2
    return face.at(size), size


def _rotate(points: Sequence[Point], centre: Point, degrees: float) -> list[Point]:
    """PIL's ``rotate(angle)`` turns counter-clockwise on screen: with y down, that is this matrix."""
    theta = math.radians(degrees)
    cos, sin = math.cos(theta), math.sin(theta)
    cx, cy = centre
    return [(cx + (x - cx) * cos + (y - cy) * sin, cy - (x - cx) * sin + (y - cy) * cos) for x, y in points]


def draw_line(
    image: Image.Image,
    text: str,
    face: FontFace,
    size: int,
    centre: Point,
    rotation: float,
    rng: random.Random,
    busy: bool = False,
) -> tuple[Quad, int]:
    """Draw ``text`` centred at ``centre``, turned by ``rotation`` degrees; the ink's quad and the size
    used. On a ``busy`` background (photo, texture, noise) the text gets a banner behind it or an
    outline, as ads printed on photos do, so a person can read it at a glance."""
    font, size = _fit_font(face, text, size, int(image.width * 0.92))
    left, top, right, bottom = font.getbbox(text)
    margin = size
    layer_w, layer_h = right - left + 2 * margin, bottom - top + 2 * margin
    region = image.crop(
        (
            max(0, int(centre[0] - layer_w / 2)),
            max(0, int(centre[1] - layer_h / 2)),
            min(image.width, int(centre[0] + layer_w / 2)),
            min(image.height, int(centre[1] + layer_h / 2)),
        )
    )
    layer = Image.new("RGBA", (layer_w, layer_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    banner = busy and rng.random() < 0.5
    if banner:
        fill = _random_colour(rng)
        pad = max(4, size // 4)
        draw.rounded_rectangle(
            (margin - pad, margin - pad, layer_w - margin + pad, layer_h - margin + pad), radius=pad, fill=(*fill, 235)
        )
        region = Image.new("RGB", (8, 8), fill)
    colour, under = _text_colour(region, rng)
    stroke = 0
    if busy and not banner:
        stroke = max(1, size // 16)
    elif size >= 24:
        stroke = rng.choice((0, 0, 0, 1, 2))
    stroke_fill = (0, 0, 0) if _luminance(colour) > under else (255, 255, 255)
    if busy and not banner:
        stroke_fill = (0, 0, 0) if _luminance(colour) > 127 else (255, 255, 255)
    draw.text(
        (margin - left, margin - top),
        text,
        font=font,
        fill=(*colour, 255),
        stroke_width=stroke,
        stroke_fill=stroke_fill,
    )
    turned = layer.rotate(rotation, resample=Image.Resampling.BICUBIC, expand=True)
    offset = (round(centre[0] - turned.width / 2), round(centre[1] - turned.height / 2))
    image.paste(turned, offset, turned)
    ink = [
        (margin, margin),
        (layer_w - margin, margin),
        (layer_w - margin, layer_h - margin),
        (margin, layer_h - margin),
    ]
    turned_centre = (turned.width / 2, turned.height / 2)
    shifted = [(x - layer_w / 2 + turned_centre[0], y - layer_h / 2 + turned_centre[1]) for x, y in ink]
    corners = _rotate(shifted, turned_centre, rotation)
    a, b, c, d = ((x + offset[0], y + offset[1]) for x, y in corners)
    return (a, b, c, d), size


def _turned_half_extents(width: float, height: float, rotation: float) -> tuple[float, float]:
    """Half the width and height of the axis-aligned box around a width x height box turned by ``rotation``."""
    cos, sin = abs(math.cos(math.radians(rotation))), abs(math.sin(math.radians(rotation)))
    return (width * cos + height * sin) / 2, (width * sin + height * cos) / 2


def _fitting_rotation(width: float, height: float, rotation: float, band: float) -> float:
    """``rotation``, reduced until the turned line fits in its band (lines of one image never overlap)."""
    while abs(rotation) > 0.5 and 2 * _turned_half_extents(width, height, rotation)[1] + 4 > band:
        rotation *= 0.8
    return rotation if abs(rotation) > 0.5 else 0.0


def _language_of(group: str) -> Language:
    return "zh" if group.endswith("/zh") else "en" if group.endswith("/en") else "none"


def _face_for(language: Language, rng: random.Random) -> FontFace:
    fonts = available_fonts()
    pool = [f for f in fonts if f.cjk] if language == "zh" else list(fonts)
    return rng.choice(pool)


def _encode(image: Image.Image, quality: int | None) -> Image.Image:
    """The image as an upload would carry it: through a JPEG at ``quality`` (None: lossless)."""
    if quality is None:
        return image
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    decoded = Image.open(buffer)
    decoded.load()
    return decoded.convert("RGB")


def _text_image(group: str, index: int, rng: random.Random, nprng: np.random.Generator) -> GeneratedImage:
    kind, language = group.split("/")[0], _language_of(group)
    size = rng.choice(SIZES)
    bg = rng.choice(BACKGROUNDS)
    image = background(bg, size, rng, nprng)
    positive = kind in EXPECTED
    texts: list[tuple[str, bool]] = []
    if positive:
        texts.append((rng.choice(TEXT_TEMPLATES[group])(rng), True))
        distractors = rng.randint(0, 2)
    else:
        distractors = rng.randint(1, 4)
    labels = TEXT_TEMPLATES[f"label/{language}"]
    texts += [(rng.choice(labels)(rng), False) for _ in range(distractors)]
    rng.shuffle(texts)
    barcode_box = _paste_barcode(image, rng) if kind == "label" and rng.random() < 0.25 else None
    usable_height = size[1] if barcode_box is None else barcode_box[0][1] - 8
    band = usable_height / len(texts)
    busy = bg in ("photo", "texture", "noise")
    lines: list[RenderedLine] = []
    for row, (text, target) in enumerate(texts):
        face = _face_for(language, rng)
        font, font_size = _fit_font(face, text, rng.choice(FONT_SIZES), int(size[0] * 0.92))
        rotation = rng.uniform(-MAX_ROTATION, MAX_ROTATION) if rng.random() < 0.7 else 0.0
        left, top, right, bottom = font.getbbox(text)
        rotation = _fitting_rotation(right - left, bottom - top, rotation, band)
        half_w, half_h = _turned_half_extents(right - left, bottom - top, rotation)
        centre_x = rng.uniform(half_w + 4, max(half_w + 5, size[0] - half_w - 4))
        low, high = band * row + half_h + 2, band * (row + 1) - half_h - 2
        centre_y = rng.uniform(low, high) if high > low else band * row + band / 2
        quad, used = draw_line(image, text, face, font_size, (centre_x, centre_y), rotation, rng, busy)
        lines.append(RenderedLine(text, language, quad, face.name, used, rotation, target))
    quality = rng.choice(JPEG_QUALITIES)
    return GeneratedImage(
        id=f"{group}#{index}",
        group=group,
        kind=kind,
        language=language,
        image=_encode(image, quality),
        lines=tuple(lines),
        expected=EXPECTED.get(kind, frozenset()),
        background=bg,
        jpeg_quality=quality,
        code_box=barcode_box,
    )


def _paste_barcode(image: Image.Image, rng: random.Random) -> Quad | None:
    """A real EAN-13 barcode (python-barcode) in a corner, as on a product label."""
    try:
        from barcode import EAN13
        from barcode.writer import ImageWriter
    except ImportError:
        return None
    rendered = EAN13(ean13(rng)[:12], writer=ImageWriter()).render(
        {"module_width": 0.3, "module_height": 12.0, "write_text": False, "quiet_zone": 4.0, "dpi": 200}
    )
    rendered = rendered.convert("RGB")
    x = rng.choice((8, image.width - rendered.width - 8))
    y = image.height - rendered.height - 8
    image.paste(rendered, (x, y))
    return ((x, y), (x + rendered.width, y), (x + rendered.width, y + rendered.height), (x, y + rendered.height))


def _qr_image(group: str, index: int, rng: random.Random, nprng: np.random.Generator) -> GeneratedImage:
    import segno

    templates = QR_CONTACT if group == "qr_contact" else QR_BENIGN
    payload = rng.choice(templates)(rng)
    size = rng.choice(SIZES)
    bg = rng.choice(BACKGROUNDS)
    image = background(bg, size, rng, nprng)
    code = segno.make(payload, error=rng.choice("lmqh"), micro=False)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=rng.randint(3, 8), border=rng.randint(2, 4))
    buffer.seek(0)
    qr = Image.open(buffer).convert("RGB")
    rotation = rng.uniform(-MAX_ROTATION, MAX_ROTATION) if rng.random() < 0.5 else 0.0
    mask = Image.new("L", qr.size, 255)
    turned = qr.rotate(rotation, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    turned_mask = mask.rotate(rotation, expand=True)
    x = rng.randint(0, max(0, size[0] - turned.width))
    y = rng.randint(0, max(0, size[1] - turned.height))
    image.paste(turned, (x, y), turned_mask)
    corners = _rotate(
        [(0, 0), (qr.width, 0), (qr.width, qr.height), (0, qr.height)], (qr.width / 2, qr.height / 2), rotation
    )
    dx, dy = x + (turned.width - qr.width) / 2, y + (turned.height - qr.height) / 2
    a, b, c, d = ((px + dx, py + dy) for px, py in corners)
    quality = rng.choice(JPEG_QUALITIES)
    return GeneratedImage(
        id=f"{group}#{index}",
        group=group,
        kind=group,
        language="none",
        image=_encode(image, quality),
        lines=(),
        expected=EXPECTED.get(group, frozenset()),
        background=bg,
        jpeg_quality=quality,
        payload=payload,
        code_box=(a, b, c, d),
    )


def _picture_image(group: str, index: int, rng: random.Random, nprng: np.random.Generator) -> GeneratedImage:
    size = rng.choice(SIZES)
    if group == "photo":
        image, bg = background("photo", size, rng, nprng), "photo"
    else:
        image, bg = _picture(size, rng, nprng), "shapes"
    quality = rng.choice(JPEG_QUALITIES)
    return GeneratedImage(
        f"{group}#{index}", group, group, "none", _encode(image, quality), (), frozenset(), bg, quality
    )


def generate_one(group: str, index: int, seed: int) -> GeneratedImage:
    """Image ``index`` of ``group``; the same (group, index, seed) always draws the same image."""
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}; one of {GROUPS}")
    rng = random.Random(f"{seed}:{group}:{index}")
    nprng = np.random.default_rng(rng.getrandbits(64))
    if group in TEXT_TEMPLATES:
        return _text_image(group, index, rng, nprng)
    if group.startswith("qr_"):
        return _qr_image(group, index, rng, nprng)
    return _picture_image(group, index, rng, nprng)


def generate(seed: int, per_group: int, groups: Sequence[str] = GROUPS) -> Iterator[GeneratedImage]:
    """``per_group`` images of each group, lazily (a few MB each). ``photo`` yields nothing where
    scikit-image's samples are not installed."""
    for group in groups:
        if group == "photo" and not photo_samples():
            continue
        for index in range(per_group):
            yield generate_one(group, index, seed)
