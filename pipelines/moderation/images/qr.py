"""QR codes and barcodes in input images, and the off-platform contact links in their payloads.

A QR code on a product photo is the commonest way to move a buyer off the platform: it opens a
WhatsApp or Telegram chat, adds a WeChat or QQ contact, or hides any of these behind a short link.
:class:`CodeScreen` decodes the codes (OpenCV, already a dependency of the OCR screen);
:class:`ContactLinkDetector` finds contact and short links in any text (a payload, OCR text, a
prompt) and maps each host to a policy category.

Decisions:

* Decoding is bounded like OCR: the image is downscaled to ``max_pixels`` first, at most
  ``max_codes`` codes are kept, and each payload is cut to ``max_payload_bytes`` before any text
  is screened. Nothing is ever fetched: a link is judged by its scheme and host alone.
* Payload bytes are decoded as UTF-8, else GB 18030 (Chinese generators often write GBK), else
  Latin-1: a payload never fails to become text, so it is never skipped as unreadable.
* Retail barcodes (EAN-13, EAN-8, UPC-A/E) whose GTIN check digit is valid are product numbers
  and skip the text layers by default: 10% of random 13-digit numbers also pass the Luhn check the
  bank-card pattern uses, so every product photo's barcode would otherwise risk a PII flag.
  Every other payload (QR codes, Code 128 and the like, which can carry any text) is screened.
* Hosts match exactly or as a parent domain (``chat.whatsapp.com`` matches ``whatsapp.com`` only if
  ``whatsapp.com`` is listed); the lists are configuration, with the category each maps to.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipelines.moderation.images.ocr import Quad, to_bgr
from pipelines.moderation.text.detectors import RULE_SCORE, DetectContext, Hit
from pipelines.moderation.text.normalize import NormalizedText

SPAM = "spam"

# Chat apps' contact, group and invite links, and the short-link services that hide them.
DEFAULT_CONTACT_HOSTS: dict[str, str] = dict.fromkeys(
    (
        # WhatsApp
        "wa.me",
        "api.whatsapp.com",
        "chat.whatsapp.com",
        "wa.link",
        # Telegram
        "t.me",
        "telegram.me",
        "telegram.dog",
        # WeChat / WeCom
        "u.wechat.com",
        "weixin.qq.com",
        "work.weixin.qq.com",
        # QQ
        "qm.qq.com",
        "jq.qq.com",
        # LINE, Kakao, Viber, Signal, Discord, Messenger
        "line.me",
        "lin.ee",
        "open.kakao.com",
        "invite.viber.com",
        "signal.me",
        "signal.group",
        "discord.gg",
        "m.me",
        # short links
        "bit.ly",
        "t.cn",
        "tinyurl.com",
        "goo.gl",
        "is.gd",
        "v.gd",
        "ow.ly",
        "buff.ly",
        "t.ly",
        "rb.gy",
        "cutt.ly",
        "shorturl.at",
        "rebrand.ly",
        "s.id",
        "dwz.cn",
        "url.cn",
        "tiny.cc",
    ),
    SPAM,
)
# App schemes that open a chat or add a contact directly.
DEFAULT_CONTACT_SCHEMES: dict[str, str] = dict.fromkeys(
    ("weixin", "wechat", "whatsapp", "tg", "mqq", "mqqapi", "mqqwpa", "line", "viber", "kakaotalk", "sgnl"),
    SPAM,
)

# A URL with a scheme and "//" (https://, weixin://), or a bare host[/path]; lengths are bounded so a
# payload cannot make it backtrack. "//" is required so that "Contact:t.me/x" is not read as a URL
# with the scheme "contact" that hides the host after it.
_LINK = re.compile(
    r"(?<![a-z0-9@.\-])"
    r"(?:[a-z][a-z0-9+.\-]{0,15}://[^\s<>\"'`]{1,2048}"
    r"|(?:[a-z0-9](?:[a-z0-9\-]{0,62}[a-z0-9])?\.){1,8}[a-z]{2,24}(?::[0-9]{1,5})?(?:/[^\s<>\"'`]{0,2048})?)",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]{0,15}://", re.IGNORECASE)
_WEB_SCHEMES = frozenset({"http", "https"})

_RETAIL_SYMBOLOGIES = frozenset({"EAN_13", "EAN_8", "UPC_A", "UPC_E"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContactLinkConfig(_Strict):
    enabled: bool = Field(True, description="Find contact and short links in payloads and in OCR text.")
    hosts: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_CONTACT_HOSTS),
        description="Host (matched exactly or as a parent domain, without `www.`) -> policy category.",
    )
    schemes: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_CONTACT_SCHEMES),
        description="URL scheme of a chat app (`weixin://`, `tg://`) -> policy category.",
    )
    max_text_chars: int = Field(8192, gt=0, description="Characters of a text searched for links at most.")
    max_links: int = Field(32, gt=0, description="Links examined per text at most.")

    @field_validator("hosts", "schemes")
    @classmethod
    def _lower_case(cls, value: dict[str, str]) -> dict[str, str]:
        return {key.strip().lower().rstrip("."): category for key, category in value.items()}


class CodeConfig(_Strict):
    """QR codes and barcodes in each input image (OpenCV's detectors, on CPU)."""

    enabled: bool = Field(True, description="Decode QR codes and barcodes and screen their payloads.")
    max_pixels: int = Field(
        1_048_576, gt=0, description="Pixel budget for decoding; larger images are downscaled to it first."
    )
    qr: bool = Field(True, description="Decode QR codes.")
    qr_detector: Literal["aruco", "classic"] = Field(
        "aruco",
        description="`aruco` (QRCodeDetectorAruco: finds codes by their finder patterns, faster on "
        "images without one) or `classic` (QRCodeDetector).",
    )
    barcodes: bool = Field(True, description="Decode 1-D barcodes (EAN, UPC, Code 39/93/128...).")
    max_codes: int = Field(16, gt=0, description="Codes kept per image at most.")
    max_payload_bytes: int = Field(4096, gt=0, description="Each payload is cut to this many bytes before screening.")
    screen_retail_numbers: bool = Field(
        False,
        description="Also screen retail barcodes (EAN/UPC with a valid check digit) with the text layers; "
        "off because product numbers pass the bank-card Luhn check one time in ten.",
    )
    links: ContactLinkConfig = Field(default_factory=ContactLinkConfig)
    deadline_s: float = Field(
        1.0, gt=0.0, description="Per-image time budget; barcode decoding is skipped once the QR pass ran past it."
    )


@dataclass(frozen=True)
class DecodedCode:
    """One decoded code. ``symbology``: ``QR`` or OpenCV's barcode type (``EAN_13``, ``CODE_128``...);
    ``box``: four corners in the original image's pixels."""

    symbology: str
    payload: str
    box: Quad
    truncated: bool  # the payload was longer than max_payload_bytes

    @property
    def retail_number(self) -> bool:
        return self.symbology in _RETAIL_SYMBOLOGIES and gtin_valid(self.payload)


@dataclass(frozen=True)
class CodeResult:
    codes: tuple[DecodedCode, ...]
    complete: bool  # False when the deadline skipped the barcode pass, or more than max_codes were found
    elapsed_s: float


def gtin_valid(number: str) -> bool:
    """GS1 mod-10 check digit (weights 3,1 from the right, check digit excluded) of an 8-14 digit GTIN."""
    if not number.isdigit() or not 8 <= len(number) <= 14:
        return False
    body, check = number[:-1], int(number[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def decode_payload(data: bytes, limit: int) -> tuple[str, bool]:
    """Payload bytes as text (UTF-8, else GB 18030, else Latin-1), cut to ``limit`` bytes."""
    truncated = len(data) > limit
    data = data[:limit]
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding), truncated
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), truncated


class ContactLinkDetector:
    """Contact and short links in a text as policy hits (layer ``contact_links``). Also a text-layer
    :class:`~pipelines.moderation.text.detectors.Detector`: it matches the folded view, so
    ``ｗａ．ｍｅ/1415`` is ``wa.me/1415``, and reports spans in the original text."""

    name = "contact_links"
    cost = "cheap"  # one bounded regex pass: may screen every streamed delta

    def __init__(self, config: ContactLinkConfig | None = None) -> None:
        self.config = config or ContactLinkConfig()

    def detect(self, text: NormalizedText, context: DetectContext) -> list[Hit]:
        if not self.config.enabled:
            return []
        hits = []
        folded = text.folded[: self.config.max_text_chars]
        for count, match in enumerate(_LINK.finditer(folded)):
            if count >= self.config.max_links:
                break
            category = self.category_of(match.group(0))
            if category is not None:
                start, end = text.folded_span(match.start(), match.end())
                hits.append(Hit(category, start, end, RULE_SCORE, self.name, text.original[start:end]))
        return hits

    def find(self, text: str) -> list[Hit]:
        return self.detect(NormalizedText.of(text), DetectContext())

    def category_of(self, link: str) -> str | None:
        """The category of one link (``https://wa.me/1``, ``weixin://dl/chat``, ``t.me/shop``), if listed."""
        try:
            parts = urlsplit(link if _SCHEME.match(link) else "//" + link)
        except ValueError:  # e.g. an unbalanced IPv6 bracket
            return None
        scheme = parts.scheme.lower()
        if scheme and scheme not in _WEB_SCHEMES:
            return self.config.schemes.get(scheme)
        host = (parts.hostname or "").rstrip(".")
        while host:
            if host in self.config.hosts:
                return self.config.hosts[host]
            _, _, host = host.partition(".")
        return None


class CodeScreen:
    """Loaded once per replica; ``read`` is not thread-safe (OpenCV detectors keep state): one call at a
    time per instance."""

    def __init__(self, config: CodeConfig | None = None) -> None:
        import cv2  # imported lazily: a config with codes off never loads it

        self.config = config or CodeConfig()
        self._cv2 = cv2
        self.qr_detector = cv2.QRCodeDetectorAruco() if self.config.qr_detector == "aruco" else cv2.QRCodeDetector()
        self.barcode_detector = cv2.barcode.BarcodeDetector()

    def read(self, image: Image.Image | np.ndarray, deadline: float | None = None) -> CodeResult:
        """The codes in one image. ``deadline``: a ``time.monotonic()`` instant that overrides
        ``config.deadline_s`` when sooner."""
        deadline = _sooner(deadline, time.monotonic() + self.config.deadline_s)
        return self.read_bgr(to_bgr(image), deadline)

    def read_bgr(self, original: np.ndarray, deadline: float | None = None) -> CodeResult:
        """``read`` of an image already converted by :func:`~pipelines.moderation.images.ocr.to_bgr`."""
        started = time.monotonic()
        deadline = _sooner(deadline, started + self.config.deadline_s)
        height, width = original.shape[:2]
        scale = min(1.0, math.sqrt(self.config.max_pixels / (width * height)))
        pixels = original
        if scale < 1.0:
            size = (max(1, math.floor(width * scale)), max(1, math.floor(height * scale)))
            pixels = self._cv2.resize(original, size, interpolation=self._cv2.INTER_AREA)
        gray = self._cv2.cvtColor(pixels, self._cv2.COLOR_BGR2GRAY)
        codes: list[DecodedCode] = []
        complete = True
        if self.config.qr and time.monotonic() < deadline:
            codes += self._qr_codes(gray, scale)
        if self.config.barcodes:
            if time.monotonic() < deadline:
                codes += self._barcodes(gray, scale)
            else:
                complete = False
        if len(codes) > self.config.max_codes:
            codes, complete = codes[: self.config.max_codes], False
        return CodeResult(tuple(codes), complete, time.monotonic() - started)

    def _qr_codes(self, gray: np.ndarray, scale: float) -> list[DecodedCode]:
        found, payloads, points, _ = self.qr_detector.detectAndDecodeBytesMulti(gray)
        if not found or points is None:
            return []
        codes = []
        for data, corners in zip(payloads, points, strict=True):
            if data:  # detected but not decodable: nothing to screen
                text, truncated = decode_payload(bytes(data), self.config.max_payload_bytes)
                codes.append(DecodedCode("QR", text, _quad(corners, scale), truncated))
        return codes

    def _barcodes(self, gray: np.ndarray, scale: float) -> list[DecodedCode]:
        found, payloads, symbologies, points = self.barcode_detector.detectAndDecodeWithType(gray)
        if not found or points is None:
            return []
        codes = []
        for payload, symbology, corners in zip(payloads, symbologies, points, strict=True):
            if payload:
                text, truncated = decode_payload(payload.encode("utf-8"), self.config.max_payload_bytes)
                codes.append(DecodedCode(str(symbology), text, _quad(corners, scale), truncated))
        return codes


def _sooner(deadline: float | None, own: float) -> float:
    return own if deadline is None else min(deadline, own)


def _quad(corners: np.ndarray, scale: float) -> Quad:
    (a, b, c, d) = ((float(x) / scale, float(y) / scale) for x, y in np.asarray(corners).reshape(4, 2))
    return (a, b, c, d)
