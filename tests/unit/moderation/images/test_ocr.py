"""OCR screen (rapidocr's bundled PP-OCRv4 models) and the mapping of text hits back to image lines."""

from __future__ import annotations

import math
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from pipelines.moderation.images.image_text import (
    ImageTextConfig,
    ImageTextScreen,
    bounded_source,
    join_lines,
    lines_of_span,
    ocr_misreadings,
    policy_checks,
    policy_thresholds,
    screen_ocr_lines,
)
from pipelines.moderation.images.ocr import (
    OcrConfig,
    OcrLine,
    OcrScreen,
    canvas_layout,
    ctc_decode,
    flat,
    lengthened,
    quad_rect,
    reading_order,
    to_bgr,
)
from pipelines.moderation.policy.engine import PolicyEngine

CJK_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


@pytest.fixture(scope="module")
def cjk_font() -> Callable[[int], ImageFont.FreeTypeFont]:
    for path in CJK_FONTS:
        if Path(path).is_file():
            index = 2 if path.endswith("NotoSansCJK-Regular.ttc") else 0
            return lambda size: ImageFont.truetype(path, size, index=index)
    pytest.skip("no CJK font: `make setup` installs fonts-wqy-microhei / fonts-noto-cjk from Debian's packages")


@pytest.fixture(scope="module")
def ocr() -> OcrScreen:
    return OcrScreen(OcrConfig(deadline_s=30.0))


def compact(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace()).casefold()


def page(
    font: Callable[[int], ImageFont.FreeTypeFont],
    lines: list[tuple[str, tuple[int, int], int]],
    size: tuple[int, int] = (1024, 768),
) -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    """An image with each (text, top-left, font size) drawn; and each line's ink box (x0, y0, x1, y1)."""
    image = Image.new("RGB", size, (245, 240, 230))
    draw = ImageDraw.Draw(image)
    boxes = []
    for text, origin, font_size in lines:
        draw.text(origin, text, font=font(font_size), fill=(20, 20, 20))
        boxes.append(draw.textbbox(origin, text, font=font(font_size)))
    return image, boxes


def rect_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def line_rect(line: OcrLine) -> tuple[float, float, float, float]:
    x, y, w, h = line.rect
    return (x, y, x + w, y + h)


# --- the canvas: pixel budget, stride, padding ----------------------------------------------------


@pytest.mark.parametrize(
    "size", [(1024, 768), (4096, 3072), (640, 480), (100, 40), (4000, 200), (200, 4000), (33, 33), (1, 1), (8000, 1)]
)
def test_canvas_stays_within_the_pixel_budget_on_the_detector_stride(size: tuple[int, int]) -> None:
    config = OcrConfig(max_pixels=300_000)
    layout = canvas_layout(*size, config)
    assert layout.width * layout.height <= config.max_pixels
    assert layout.width % 32 == 0 and layout.height % 32 == 0
    # the scaled image fits on the canvas at its offset, aspect ratio kept
    assert layout.left + layout.inner_width <= layout.width and layout.top + layout.inner_height <= layout.height
    assert math.isclose(layout.inner_width / size[0], layout.scale, rel_tol=0.5 if min(size) < 4 else 0.02)


def test_small_images_are_upscaled_only_to_the_configured_side() -> None:
    config = OcrConfig(upscale_to_side=640)
    assert canvas_layout(320, 240, config).scale == pytest.approx(2.0)
    assert canvas_layout(720, 540, config).scale == 1.0  # within budget, larger than the side: as is
    assert canvas_layout(320, 240, OcrConfig(upscale_to_side=0)).scale == 1.0


def test_very_flat_images_are_padded_to_the_canvas_aspect() -> None:
    layout = canvas_layout(4000, 100, OcrConfig(max_canvas_aspect=8.0))
    assert layout.width / layout.height <= 8.0 + 0.5
    assert layout.top > 0


def test_to_bgr_accepts_pil_and_arrays() -> None:
    rgb = Image.new("RGB", (4, 2), (10, 20, 30))
    assert to_bgr(rgb)[0, 0].tolist() == [30, 20, 10]
    assert to_bgr(np.zeros((2, 4), np.uint8)).shape == (2, 4, 3)
    assert to_bgr(np.full((2, 4, 4), 7, np.uint8)).shape == (2, 4, 3)
    assert to_bgr(Image.new("L", (4, 2), 9))[0, 0].tolist() == [9, 9, 9]
    with pytest.raises(ValueError):
        to_bgr(np.zeros((2, 4, 5), np.uint8))


# --- reading the text -------------------------------------------------------------------------------


def test_reads_rendered_chinese_and_english_lines(
    ocr: OcrScreen, cjk_font: Callable[[int], ImageFont.FreeTypeFont]
) -> None:
    image, _ = page(
        cjk_font, [("加微信 shop8899 高仿包", (40, 80), 36), ("cheap watches here", (40, 300), 32)], (640, 480)
    )
    result = ocr.read(image)
    assert result.complete
    texts = [compact(line.text) for line in result.lines]
    assert texts == ["加微信shop8899高仿包", "cheapwatcheshere"]
    assert [line.row for line in result.lines] == [0, 1]
    assert all(0.5 <= line.score <= 1.0 for line in result.lines)


def test_boxes_are_in_original_coordinates_after_downscaling(
    ocr: OcrScreen, cjk_font: Callable[[int], ImageFont.FreeTypeFont]
) -> None:
    image, boxes = page(cjk_font, [("净含量 500g 保质期 12个月", (900, 1500), 96)], size=(3000, 2250))
    small = OcrScreen(OcrConfig(max_pixels=300_000, deadline_s=30.0))
    result = small.read(image)
    assert result.canvas_scale < 0.25  # 6.75 MP read on a 0.3 MP canvas
    assert [compact(line.text) for line in result.lines] == ["净含量500g保质期12个月"]
    assert rect_iou(line_rect(result.lines[0]), boxes[0]) > 0.6
    # the same text at the original scale lands in the same place
    x, y, w, _ = quad_rect(result.lines[0].box)
    assert 850 < x < 960 and 1450 < y < 1560 and w > 1000


def test_rotated_text_is_read(ocr: OcrScreen, cjk_font: Callable[[int], ImageFont.FreeTypeFont]) -> None:
    image, _ = page(cjk_font, [("WhatsApp 415 555 0132", (100, 200), 40)], size=(640, 480))
    turned = image.rotate(12, resample=Image.Resampling.BICUBIC, fillcolor=(245, 240, 230))
    result = ocr.read(turned)
    assert [compact(line.text) for line in result.lines] == ["whatsapp4155550132"]


def test_max_lines_caps_recognition_and_says_so(cjk_font: Callable[[int], ImageFont.FreeTypeFont]) -> None:
    image, _ = page(cjk_font, [(f"line number {i}", (40, 10 + i * 46), 28) for i in range(10)], size=(640, 480))
    result = OcrScreen(OcrConfig(max_lines=3, deadline_s=30.0)).read(image)
    assert result.boxes_found >= 8
    assert result.boxes_read == 3 and len(result.lines) == 3
    assert not result.complete


def test_deadline_already_past_reads_nothing(ocr: OcrScreen, cjk_font: Callable[[int], ImageFont.FreeTypeFont]) -> None:
    image, _ = page(cjk_font, [("加微信 shop8899", (60, 100), 40)], size=(640, 480))
    started = time.monotonic()
    result = ocr.read(image, deadline=started)
    assert not result.complete and result.lines == ()
    assert time.monotonic() - started < 0.5  # no model ran


def test_deadline_stops_recognition_between_batches(
    ocr: OcrScreen, cjk_font: Callable[[int], ImageFont.FreeTypeFont], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow recogniser (0.4 s a line) over 10 lines with a budget of about 1 s after detection: reading
    stops within one batch of the deadline, and the lines read so far are returned."""
    image, _ = page(cjk_font, [(f"line number {i}", (40, 10 + i * 46), 28) for i in range(10)], size=(640, 480))
    detection = _detection_time(ocr, image)
    real = ocr._read_lines

    def slow(images: list[np.ndarray]) -> list[tuple[str, float]]:
        time.sleep(0.4)
        return real(images)

    monkeypatch.setattr(ocr, "_read_lines", slow)
    budget = 2 * detection + 1.0
    started = time.monotonic()
    result = ocr.read(image, deadline=started + budget)
    elapsed = time.monotonic() - started
    assert not result.complete
    assert 0 < result.boxes_read < result.boxes_found
    assert elapsed < budget + 0.4 + 0.5  # one batch past the deadline at most, plus slack for crops


def _detection_time(screen: OcrScreen, image: Image.Image) -> float:
    started = time.monotonic()
    screen.detector(to_bgr(image))
    return time.monotonic() - started


# --- decoding: spaces the recogniser nearly wrote ----------------------------------------------------

_CLASSES = ["blank", "a", "b", "1", "加", "信", "_", " "]
_SPACE = len(_CLASSES) - 1


def _steps(*steps: tuple[str, float] | str) -> np.ndarray:
    """Time steps of recogniser output: a class name (probability 0.9, the rest on the blank) or
    ("gap", p): the blank wins with the space class at probability p."""
    rows = []
    for step in steps:
        row = np.zeros(len(_CLASSES), dtype=np.float32)
        if isinstance(step, tuple):
            row[_SPACE], row[0] = step[1], 1.0 - step[1]
        else:
            row[_CLASSES.index(step)], row[0] = 0.9, 0.1
        rows.append(row)
    return np.stack(rows)


def test_ctc_decode_recovers_a_space_the_blank_outvoted() -> None:
    probabilities = _steps("a", "a", ("gap", 0.3), ("gap", 0.05), "b", ("gap", 0.02), "1")
    assert ctc_decode(probabilities, _CLASSES, _SPACE, 0.1) == ("a b1", pytest.approx(0.9))
    assert ctc_decode(probabilities, _CLASSES, _SPACE, 0.5)[0] == "ab1"
    assert ctc_decode(probabilities, _CLASSES, _SPACE, None)[0] == "ab1"


def test_ctc_decode_keeps_written_spaces_and_adds_none_to_cjk_or_underscores() -> None:
    written = _steps("a", " ", "b")
    assert ctc_decode(written, _CLASSES, _SPACE, 0.1)[0] == "a b"  # not "a  b"
    cjk = _steps("加", ("gap", 0.4), "信", ("gap", 0.4), "a")
    assert ctc_decode(cjk, _CLASSES, _SPACE, 0.1)[0] == "加信a"  # the term layer ignores separators there anyway
    handle = _steps("a", ("gap", 0.4), "_", ("gap", 0.4), "b")
    assert ctc_decode(handle, _CLASSES, _SPACE, 0.1)[0] == "a_b"  # an underscore joins a handle
    assert ctc_decode(_steps(("gap", 0.3), ("gap", 0.0)), _CLASSES, _SPACE, 0.1) == ("", 0.0)


def test_lengthened_moves_both_ends_out_along_the_text() -> None:
    flat = ((10.0, 10.0), (110.0, 10.0), (110.0, 30.0), (10.0, 30.0))  # 100 x 20
    grown = lengthened(flat, 0.5)
    assert grown.tolist() == [[0.0, 10.0], [120.0, 10.0], [120.0, 30.0], [0.0, 30.0]]
    assert lengthened(flat, 0.0).tolist() == [list(p) for p in flat]
    tall = ((10.0, 10.0), (30.0, 10.0), (30.0, 110.0), (10.0, 110.0))  # vertical text, read top to bottom
    assert lengthened(tall, 0.5).tolist() == [[10.0, 0.0], [30.0, 0.0], [30.0, 120.0], [10.0, 120.0]]
    turned = ((0.0, 0.0), (80.0, 60.0), (74.0, 68.0), (-6.0, 8.0))  # a 100 x 10 line at ~37°
    moved = lengthened(turned, 1.0)
    assert math.dist(moved[0], moved[1]) == pytest.approx(120.0, abs=0.1)
    assert math.dist(moved[0], moved[3]) == pytest.approx(10.0, abs=0.1)


def test_dropped_spaces_are_read_back_so_patterns_see_words(
    ocr: OcrScreen, engine: PolicyEngine, cjk_font: Callable[[int], ImageFont.FreeTypeFont]
) -> None:
    """The recogniser (trained mostly on Chinese) writes "WhatsApp+14155550132cheapwatches" for this line
    without space recovery; the phone pattern's word boundaries need the spaces."""
    image, _ = page(cjk_font, [("WhatsApp +1 415 555 0132 cheap watches", (30, 100), 22)], size=(640, 240))
    plain = OcrScreen(OcrConfig(deadline_s=30.0, space_probability=None)).read(image)
    assert [line.text.count(" ") for line in plain.lines] < [5]
    lines = ocr.read(image).lines
    assert len(lines) == 1 and compact(lines[0].text) == "whatsapp+14155550132cheapwatches"
    words = lines[0].text.split()
    assert words[:2] == ["WhatsApp", "+1"] and words[-2:] == ["cheap", "watches"]
    hits = screen_ocr_lines(0, lines, policy_checks(engine), policy_thresholds(engine.policy))
    assert "spam" in {hit.category for hit in hits}


def test_a_line_the_angle_classifier_turns_wrongly_is_still_read(
    cjk_font: Callable[[int], ImageFont.FreeTypeFont], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On noisy backgrounds the classifier calls upright lines upside down at 0.92-0.99: the reading the
    recogniser is surer of wins, so a wrong turn costs a second read, not the line."""
    image, _ = page(cjk_font, [("QQ群号 402637498", (60, 100), 36)], size=(640, 240))
    screen = OcrScreen(OcrConfig(deadline_s=30.0))
    monkeypatch.setattr(screen, "_upside_down", lambda images: [True] * len(images))
    assert [compact(line.text) for line in screen.read(image).lines] == ["qq群号402637498"]
    unchecked = OcrScreen(OcrConfig(deadline_s=30.0, angle_check=False))
    monkeypatch.setattr(unchecked, "_upside_down", lambda images: [True] * len(images))
    assert [compact(line.text) for line in unchecked.read(image).lines] != ["qq群号402637498"]
    # and a line that really is upside down is still turned and read
    upside_down = image.rotate(180)
    assert [compact(line.text) for line in screen.read(upside_down).lines] == ["qq群号402637498"]


def test_reading_order_groups_rows_and_sorts_left_to_right() -> None:
    def box(x: float, y: float, w: float = 100, h: float = 30) -> tuple:
        return ((x, y), (x + w, y), (x + w, y + h), (x, y + h))

    read = [(box(300, 12), "right", 0.9), (box(10, 200), "second row", 0.9), (box(10, 10), "left", 0.9)]
    lines = reading_order(read)
    assert [(line.text, line.row) for line in lines] == [("left", 0), ("right", 0), ("second row", 1)]


# --- OCR text through the text layers, traced back to lines and boxes -------------------------------


def _line(text: str, row: int, y: float) -> OcrLine:
    return OcrLine(text, 0.99, ((10.0, y), (300.0, y), (300.0, y + 30), (10.0, y + 30)), row)


def test_join_lines_puts_spaces_within_rows_and_newlines_between() -> None:
    lines = [_line("a", 0, 0), _line("b", 0, 0), _line("c", 1, 50)]
    joined = join_lines(lines)
    assert joined.text == "a b\nc"
    assert joined.spans == ((0, 1), (2, 3), (4, 5))
    assert lines_of_span(joined, 0, 3) == (0, 1)
    assert lines_of_span(joined, 4, 5) == (2,)
    assert lines_of_span(joined, 2, 2) == (0, 1, 2)  # a whole-text verdict covers every line


def test_a_term_split_over_two_lines_is_found_and_mapped_to_both(engine: PolicyEngine) -> None:
    lines = [_line("欢迎光临 加微", 0, 0), _line("信 shop8899 拿货", 1, 60), _line("100% cotton", 2, 120)]
    hits = screen_ocr_lines(3, lines, policy_checks(engine), policy_thresholds(engine.policy))
    terms = [h for h in hits if h.layer == "terms"]
    assert [(h.image_index, h.category, h.text, h.lines) for h in terms] == [(3, "spam", "加微\n信", (0, 1))]
    assert terms[0].boxes == (lines[0].box, lines[1].box)
    assert all(h.source == "ocr" and 2 not in h.lines for h in hits)
    policy_hit = terms[0].policy_hit()
    assert (policy_hit.start, policy_hit.end, policy_hit.layer) == (0, 0, "image_ocr.terms")


@pytest.mark.parametrize(
    ("read", "undone"),
    [
        ("VX: bag vip61956", "VX: bag_vip61956"),
        ("Contact on WeChat kk best11336", "Contact on WeChat kk_best11336"),
        ("Vx: bag- vip61956", "Vx: bag-_vip61956"),
        ("Only s9.99!!! Order now", "Only $9.99!!! Order now"),
        ("Size S / Colour navy", "Size S / Colour navy"),  # no digit after: nothing to undo
        ("amy55684 shop", "amy55684 shop"),
        ("加微信 shop 8899", "加微信 shop_8899"),
    ],
)
def test_ocr_misreadings_are_undone_character_for_character(read: str, undone: str) -> None:
    assert ocr_misreadings(read) == undone
    assert len(ocr_misreadings(read)) == len(read)


def test_a_handle_whose_underscore_was_read_as_a_space_is_still_found(engine: PolicyEngine) -> None:
    lines = [_line("VX: bag vip61956", 0, 0), _line("纯棉短袖T恤 白色 X码", 1, 60)]
    hits = screen_ocr_lines(0, lines, policy_checks(engine), policy_thresholds(engine.policy))
    assert {(h.category, h.lines) for h in hits} == {("spam", (0,))}
    assert all(h.text in lines[0].text for h in hits)  # reported as read
    # the text as read is screened too: a misreading undone where there was none loses nothing
    phone = [_line("Mobile 16026908128", 0, 0)]
    assert "pii" in {h.category for h in screen_ocr_lines(0, phone, policy_checks(engine), None)}


def test_pii_in_a_line_is_reported_with_its_line_and_box(engine: PolicyEngine) -> None:
    lines = [_line("净含量 500g", 0, 0), _line("身份证 11010519491231002X", 1, 60)]
    hits = screen_ocr_lines(0, lines, policy_checks(engine), policy_thresholds(engine.policy))
    pii = [(h.category, h.text, h.lines, h.boxes) for h in hits if h.layer == "patterns"]
    assert pii == [("pii", "11010519491231002X", (1,), (lines[1].box,))]


def test_benign_label_lines_have_no_hits(engine: PolicyEngine) -> None:
    lines = [_line("100% cotton, machine wash 30°C", 0, 0), _line("净含量 500g 保质期 12个月", 1, 60)]
    assert screen_ocr_lines(0, lines, policy_checks(engine), policy_thresholds(engine.policy)) == []


def test_image_text_screen_end_to_end(engine: PolicyEngine, cjk_font: Callable[[int], ImageFont.FreeTypeFont]) -> None:
    image, boxes = page(
        cjk_font, [("加微信 shop8899 高仿包", (40, 80), 36), ("净含量 500g", (40, 300), 32)], (640, 480)
    )
    screen = ImageTextScreen.for_engine(ImageTextConfig(ocr=OcrConfig(deadline_s=30.0)), engine)
    report = screen.screen(image, image_index=2)
    assert report.complete
    spam = [h for h in report.hits if h.category == "spam"]
    assert spam and all(h.image_index == 2 and h.lines == (0,) for h in spam)
    assert rect_iou(quad_rect_xyxy(spam[0].boxes[0]), boxes[0]) > 0.6
    decision = engine.decide("what is this?", "input", report.policy_hits())
    assert "spam" in decision.fired
    assert decision.text in ("what is this?", engine.policy.block_message)  # never a redaction of the prompt


def test_an_incomplete_read_is_a_screen_unavailable_hit(
    engine: PolicyEngine, cjk_font: Callable[[int], ImageFont.FreeTypeFont]
) -> None:
    image, _ = page(cjk_font, [(f"line number {i}", (40, 10 + i * 60), 28) for i in range(6)], size=(640, 480))
    screen = ImageTextScreen.for_engine(ImageTextConfig(ocr=OcrConfig(max_lines=2, deadline_s=30.0)), engine)
    report = screen.screen(image)
    assert not report.complete
    assert [(h.source, h.category, h.layer) for h in report.hits] == [("image", "screen_unavailable", "incomplete")]


def quad_rect_xyxy(box: tuple) -> tuple[float, float, float, float]:
    x, y, w, h = quad_rect(box)
    return (x, y, x + w, y + h)


def test_large_uploads_are_shrunk_once_and_boxes_scaled_back(
    engine: PolicyEngine, cjk_font: Callable[[int], ImageFont.FreeTypeFont]
) -> None:
    image, boxes = page(cjk_font, [("加微信 shop8899", (700, 900), 120)], size=(2400, 1800))
    assert bounded_source(image, 1_000_000)[1] == 3
    assert bounded_source(np.zeros((1800, 2400, 3), np.uint8), 1_000_000)[0].shape == (600, 800, 3)
    assert bounded_source(image, 10_000_000) == (image, 1)
    config = ImageTextConfig(ocr=OcrConfig(deadline_s=30.0), max_source_pixels=1_000_000, deadline_s=30.0)
    report = ImageTextScreen.for_engine(config, engine).screen(image)
    assert [compact(line.text) for line in report.lines] == ["加微信shop8899"]
    assert rect_iou(line_rect(report.lines[0]), boxes[0]) > 0.6


def test_flat_images_skip_detection_and_read_as_complete(ocr: OcrScreen, cjk_font: Callable) -> None:
    blank = Image.new("RGB", (128, 96), (200, 30, 30))
    result = ocr.read(blank)
    assert result.lines == () and result.complete and result.boxes_found == 0
    assert flat(to_bgr(blank), 8) and not flat(to_bgr(blank), 0)
    # one faint stroke is enough to be read: a dark-on-colour line in the same picture still is
    marked = blank.copy()
    ImageDraw.Draw(marked).text((4, 30), "加微信", fill=(170, 20, 20), font=cjk_font(28))
    assert not flat(to_bgr(marked), 8)
    assert not flat(np.dstack([np.full((8, 8), 100, np.uint8)] * 2 + [np.eye(8, dtype=np.uint8) * 255]), 8)
