"""QR codes and barcodes: decoding, contact-link classification, payload screening with provenance."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from pipelines.moderation.images.image_text import policy_checks, policy_thresholds, screen_codes
from pipelines.moderation.images.qr import (
    CodeConfig,
    CodeScreen,
    ContactLinkConfig,
    ContactLinkDetector,
    DecodedCode,
    decode_payload,
    gtin_valid,
)
from pipelines.moderation.policy.config import Policy
from pipelines.moderation.policy.engine import PolicyEngine
from pipelines.moderation.text.detectors import DetectContext
from pipelines.moderation.text.normalize import NormalizedText


@pytest.fixture(scope="module")
def codes() -> CodeScreen:
    return CodeScreen(CodeConfig(deadline_s=30.0))


def qr_image(payload: str, scale: int = 6) -> Image.Image:
    import segno

    buffer = io.BytesIO()
    segno.make(payload, error="m").save(buffer, kind="png", scale=scale, border=4)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def on_background(
    code: Image.Image, at: tuple[int, int], size: tuple[int, int] = (1024, 768)
) -> tuple[Image.Image, tuple[int, int, int, int]]:
    image = Image.new("RGB", size, (190, 170, 150))
    image.paste(code, at)
    return image, (at[0], at[1], at[0] + code.width, at[1] + code.height)


def inside(box: tuple, outer: tuple[int, int, int, int], slack: float) -> bool:
    return all(outer[0] - slack <= x <= outer[2] + slack and outer[1] - slack <= y <= outer[3] + slack for x, y in box)


# --- decoding -------------------------------------------------------------------------------------


def test_decodes_a_qr_code_with_its_box(codes: CodeScreen) -> None:
    image, placed = on_background(qr_image("https://wa.me/14155550132"), (600, 300))
    result = codes.read(image)
    assert result.complete
    assert [(c.symbology, c.payload) for c in result.codes] == [("QR", "https://wa.me/14155550132")]
    assert inside(result.codes[0].box, placed, slack=2)


def test_decodes_after_downscaling_and_reports_original_coordinates(codes: CodeScreen) -> None:
    image, placed = on_background(qr_image("https://t.me/cheapbags88", scale=16), (2000, 900), size=(3200, 2400))
    small = CodeScreen(CodeConfig(max_pixels=1_000_000, deadline_s=30.0))
    result = small.read(image)
    assert [c.payload for c in result.codes] == ["https://t.me/cheapbags88"]
    assert inside(result.codes[0].box, placed, slack=8)  # 7.7 MP decoded at 1 MP, box scaled back


def test_both_qr_detectors_decode(codes: CodeScreen) -> None:
    image, _ = on_background(qr_image("weixin://dl/chat?shop8899"), (100, 100))
    for detector in ("aruco", "classic"):
        result = CodeScreen(CodeConfig(qr_detector=detector, deadline_s=30.0)).read(image)
        assert [c.payload for c in result.codes] == ["weixin://dl/chat?shop8899"], detector


def test_an_image_without_codes_decodes_nothing(codes: CodeScreen) -> None:
    result = codes.read(Image.new("RGB", (640, 480), (120, 130, 140)))
    assert result.codes == () and result.complete


def test_decodes_an_ean13_barcode_as_a_retail_number(codes: CodeScreen) -> None:
    from barcode import EAN13
    from barcode.writer import ImageWriter

    rendered = EAN13("690123456789", writer=ImageWriter()).render({"write_text": False, "dpi": 200})
    image, _ = on_background(rendered.convert("RGB"), (100, 200), size=(1024, 768))
    result = codes.read(image)
    assert [(c.symbology, c.payload) for c in result.codes] == [("EAN_13", "6901234567892")]
    assert result.codes[0].retail_number


def test_past_deadline_skips_the_barcode_pass_and_says_so() -> None:
    screen = CodeScreen(CodeConfig(deadline_s=1e-9))
    result = screen.read(Image.new("RGB", (64, 64), (0, 0, 0)))
    assert not result.complete


def test_max_codes_caps_the_codes_kept() -> None:
    image = Image.new("RGB", (1400, 500), (255, 255, 255))
    for i in range(3):
        image.paste(qr_image(f"https://example.com/{i}", scale=5), (20 + i * 460, 40))
    result = CodeScreen(CodeConfig(max_codes=2, deadline_s=30.0)).read(image)
    assert len(result.codes) == 2 and not result.complete


# --- payloads ---------------------------------------------------------------------------------------


def test_payload_bytes_decode_as_utf8_then_gb18030_and_are_cut() -> None:
    assert decode_payload("加微信".encode(), 100) == ("加微信", False)
    assert decode_payload("加微信".encode("gb18030"), 100) == ("加微信", False)
    assert decode_payload(b"\xff\xfe\x80", 100)[0]  # never unreadable
    text, truncated = decode_payload(b"a" * 50, 10)
    assert text == "a" * 10 and truncated


def test_gtin_check_digits() -> None:
    assert gtin_valid("6901234567892") and gtin_valid("4006381333931") and gtin_valid("96385074")
    assert not gtin_valid("6901234567893") and not gtin_valid("12345") and not gtin_valid("69012345678a2")


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("https://wa.me/14155550132", "spam"),
        ("https://api.whatsapp.com/send?phone=447700900123", "spam"),
        ("https://chat.whatsapp.com/AbCdEf", "spam"),
        ("http://t.me/cheapbags", "spam"),
        ("telegram.me/shop", "spam"),
        ("tg://resolve?domain=shop", "spam"),
        ("weixin://dl/chat?shop8899", "spam"),
        ("https://u.wechat.com/EKw8", "spam"),
        ("https://qm.qq.com/q/abc", "spam"),
        ("https://line.me/ti/p/abc", "spam"),
        ("www.bit.ly/3xYz", "spam"),
        ("http://t.cn/A6x", "spam"),
        ("https://tinyurl.com/y3k", "spam"),
        ("is.gd/abc", "spam"),
        ("goo.gl/maps", "spam"),
        ("Contact:t.me/shop88", "spam"),
        ("扫码加我 weixin://dl/chat?abc", "spam"),
        ("ｗａ．ｍｅ/1415", "spam"),  # full-width, folded
        ("https://www.example.com/product/123", None),
        ("https://notwa.me/x", None),  # not a parent domain of wa.me
        ("user@wa.me", None),  # an e-mail address, not a link
        ("mailto:someone@example.com", None),
        ("100% cotton, machine wash 30°C", None),
        ("SN:ABCDE-12345", None),
    ],
)
def test_contact_links(text: str, category: str | None) -> None:
    hits = ContactLinkDetector().find(text)
    assert [h.category for h in hits] == ([category] if category else [])
    for hit in hits:
        assert hit.layer == "contact_links" and text[hit.start : hit.end] == hit.matched


def test_contact_link_lists_are_configuration() -> None:
    detector = ContactLinkDetector(ContactLinkConfig(hosts={"Example.COM.": "custom"}, schemes={"viber": "spam"}))
    assert [h.category for h in detector.find("see https://shop.example.com/x and viber://chat?number=1")] == [
        "custom",
        "spam",
    ]
    assert ContactLinkDetector(ContactLinkConfig(enabled=False)).find("https://wa.me/1") == []


def test_contact_links_is_a_text_layer_detector() -> None:
    detector = ContactLinkDetector()
    hits = detector.detect(NormalizedText.of("order via wa.me/1415 today"), DetectContext())
    assert [(h.start, h.end) for h in hits] == [(10, 20)]
    assert detector.cost == "cheap"


def test_link_search_is_bounded() -> None:
    detector = ContactLinkDetector(ContactLinkConfig(max_links=2, max_text_chars=200))
    assert len(detector.find(" ".join(["https://wa.me/1"] * 10))) == 2
    assert detector.find("x" * 300 + " https://wa.me/1") == []  # past max_text_chars


# --- payloads through the text layers, with provenance ----------------------------------------------


def _code(payload: str, symbology: str = "QR") -> DecodedCode:
    return DecodedCode(symbology, payload, ((10.0, 10.0), (90.0, 10.0), (90.0, 90.0), (10.0, 90.0)), False)


def test_payload_hits_carry_image_index_code_and_box(engine: PolicyEngine) -> None:
    codes = [_code("https://www.example.com/p/1"), _code("https://wa.me/4477009001 加微信 shop8899")]
    checks = policy_checks(engine, links=ContactLinkDetector())
    hits = screen_codes(4, codes, checks, policy_thresholds(engine.policy))
    assert {(h.image_index, h.source, h.lines) for h in hits} == {(4, "code", (1,))}
    assert "spam" in {h.category for h in hits}
    assert {"contact_links", "terms"} <= {h.layer for h in hits}
    assert all(h.boxes == (codes[1].box,) for h in hits)
    link = next(h for h in hits if h.layer == "contact_links")
    assert link.text == "https://wa.me/4477009001"


def test_retail_barcodes_skip_the_text_layers_unless_asked() -> None:
    """A policy whose pattern fires on any 13-digit number (as a Luhn check does one time in ten)."""
    policy = Policy.model_validate(
        {"version": "t", "block_message": "no", "categories": {"pii": {"patterns": ["[0-9]{13}"]}}}
    )
    engine = PolicyEngine(policy)
    checks, thresholds = policy_checks(engine), policy_thresholds(policy)
    ean, not_a_gtin = "6901234567892", "6901234567893"
    assert gtin_valid(ean) and not gtin_valid(not_a_gtin)
    assert screen_codes(0, [_code(ean, "EAN_13")], checks, thresholds) == []
    flagged = screen_codes(0, [_code(ean, "EAN_13")], checks, thresholds, screen_retail_numbers=True)
    assert [h.category for h in flagged] == ["pii"]
    # a wrong check digit is not a product number, and other symbologies carry any text: both screened
    assert [h.category for h in screen_codes(0, [_code(not_a_gtin, "EAN_13")], checks, thresholds)] == ["pii"]
    assert [h.category for h in screen_codes(0, [_code(ean, "CODE_128")], checks, thresholds)] == ["pii"]
