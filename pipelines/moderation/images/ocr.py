"""OCR of input images on CPU: PP-OCRv4 text detection and recognition, bounded in pixels, boxes and time.

The models are the ONNX files inside the ``rapidocr-onnxruntime`` wheel (Apache-2.0; PaddleOCR's
PP-OCRv4 Chinese/English detector and recogniser and its mobile angle classifier, Apache-2.0), so
OCR works offline with nothing to download.

Decisions:

* The library's one-call pipeline (``RapidOCR.__call__``) is not used: it *upscales* every image
  until its short side is 736 px (a 4000x400 banner becomes 7360x736 before detection), recognises
  every box it finds and has no deadline. :class:`OcrScreen` drives the library's three stages
  itself so that each one's work is bounded:

  - detection runs once, on a canvas of at most ``max_pixels`` (downscaled, or upscaled when small
    up to ``upscale_to_side``, never beyond the budget; very flat or tall images are padded to
    ``max_canvas_aspect`` first so the detector sees a shape it was trained on);
  - the contour post-processing considers at most ``max_candidates`` regions, and at most
    ``max_lines`` boxes (the largest, where more were found) go on to recognition;
  - recognition runs in batches of ``recognition_batch_size`` crops, each crop at most
    ``max_line_aspect`` times as wide as it is high (wider ones are squeezed), and the deadline is
    checked before each batch.

  One ONNX run cannot be interrupted, so the wall-clock bound is the deadline plus the longest
  single stage: detection of a full canvas with its post-processing (measured at most ~0.45 s of CPU
  on the generated adversarial inputs: a page of 72 lines, a noise image) or one recognition batch
  (~0.25 s at the 1920 px width cap). Without the caps, the 72-line page costs 8.5 s of CPU; with
  them, reading stops at the deadline (``bench.image_eval`` section e' measures all of this). A
  result cut short says so (``complete=False``), so the caller can apply the policy's fail mode
  rather than treat unread text as clean.
* Text lines are cut out of the *original* image (up to twice the recogniser's 48 px height, then
  area-shrunk), from boxes found on the downscaled canvas: detection needs the layout, recognition
  needs the strokes, and a 4000x3000 photo's small print survives this where it would not survive
  the canvas.
* What the recogniser reads is repaired where its failures are systematic (measured on the generated
  set with ``bench.image_eval``; each is a switch in :class:`OcrConfig`):

  - *dropped spaces*: the bundled recogniser is trained mostly on Chinese and leaves out most spaces
    in English ("WhatsApp+14485550184cheapwatches", "Mobile16026908128"), so the patterns' word
    boundaries fail. Its output still marks them: in the gap between two words the space class gets
    0.03-0.8 probability though the blank wins, and within a word it stays under 0.04 (3,879 pairs of
    such characters on seeds 7 and 11: 496 of 505 spaces found at 0.05, 1 of 3,374 inserted wrongly).
    :func:`ctc_decode` reads those spaces back, between characters of spaced scripts only, never
    next to ``_`` (an underscore's low stroke reads as a gap);
  - *a cut first or last glyph*: the detector's box stops inside a thin stroke (一手货源 read as
    手货源), so each crop is lengthened at both ends by ``line_end_padding`` of its height;
  - *wrong 180° turns*: the angle classifier calls upright lines on noisy or textured backgrounds
    upside down at 0.92-0.99, and the turned line reads as one or two junk characters; a turned line
    is read both ways and the reading the recogniser is surer of kept (``angle_check``).
* Boxes are reported in the original image's pixel coordinates (four corners, clockwise from the
  top-left), whatever the canvas scale and padding were.
* ONNX Runtime runs with ``intra_op_threads`` threads (1 by default): screens run in parallel across
  images and replicas, and one thread per screen is what keeps them from fighting over the cores.
"""

from __future__ import annotations

import math
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]

# The detector's feature map is 1/32 of its input: canvas sides are multiples of this.
_DETECTOR_STRIDE = 32
# Each retry shrinks the scale by this much when rounding the canvas up to the stride broke the budget.
_BUDGET_STEP = 0.995
# Lines are warped out of the original at up to this many times the recogniser's input height, then
# area-shrunk: straight warping to 48 px would alias a large line's strokes.
_WARP_HEADROOM = 2.0
# Crops at least this much taller than wide are vertical text; the recogniser reads them turned.
_VERTICAL_CROP_RATIO = 1.5


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OcrConfig(_Strict):
    """OCR of each input image (``rapidocr-onnxruntime``'s bundled PP-OCRv4 models, on CPU)."""

    enabled: bool = Field(True, description="Read the text in every input image and screen it like the prompt.")
    max_pixels: int = Field(
        491_520,
        gt=_DETECTOR_STRIDE * _DETECTOR_STRIDE,
        description="Pixel budget of the detector's canvas (a 1024x768 upload is read at 800x608); larger "
        "images are downscaled to it. Detection time grows linearly with it: on the generated set, 0.49 MP "
        "reads as many characters as 0.79 MP (99.5%) at two thirds of the CPU time, 0.37 MP loses 2%.",
    )
    upscale_to_side: int = Field(
        640,
        ge=0,
        description="Images whose longer side is shorter than this are upscaled to it (within "
        "`max_pixels`) so that small stickers and banners still have detectable strokes; 0 never upscales.",
    )
    max_canvas_aspect: float = Field(
        8.0, ge=1.0, description="Flatter or taller images are padded to this side ratio before detection."
    )
    binarize_threshold: float = Field(0.3, gt=0.0, lt=1.0, description="Detector probability that counts as text.")
    box_threshold: float = Field(0.5, gt=0.0, lt=1.0, description="Mean detector probability a box needs.")
    unclip_ratio: float = Field(1.6, gt=0.0, description="How far a detected text region is grown into its box.")
    max_candidates: int = Field(
        256, gt=0, description="Text regions the detector's post-processing considers at most (bounds its time)."
    )
    max_lines: int = Field(
        64, gt=0, description="Boxes recognised at most; where more were found, the largest are kept."
    )
    angle_classifier: bool = Field(
        True, description="Detect upside-down lines (a mobile classifier, ~2 ms per line) and read them turned."
    )
    angle_threshold: float = Field(0.9, gt=0.0, lt=1.0, description="Confidence needed to turn a line 180°.")
    angle_check: bool = Field(
        True,
        description="A line the classifier would turn is read both ways and the reading the recogniser is surer "
        "of kept: the classifier turns upright lines on noisy backgrounds with high confidence, and then the "
        "line reads as garbage (one more recognition for each line it turns).",
    )
    line_end_padding: float = Field(
        0.25,
        ge=0.0,
        le=2.0,
        description="Each line is cut out this share of its height longer at both ends than its detected box: "
        "the detector's box often stops short of a thin first or last glyph (the 一 of 一手货源, an f, a 1). "
        "Reported boxes stay the detector's. Any change moves where the recogniser's 8-pixel steps fall on the "
        "glyphs, so single lines read differently either way; character recall on held-out seeds is unchanged.",
    )
    space_probability: float | None = Field(
        0.05,
        gt=0.0,
        le=1.0,
        description="Between two characters of a spaced script (Latin, digits, punctuation; not CJK), a space is "
        "read where the recogniser's space probability reaches this in the gap, even when the blank wins there: "
        "its Chinese-trained model drops most spaces in English ('WhatsApp+14155550132cheapwatches'), and the "
        "text layers' word boundaries need them. null: only the spaces it outputs.",
    )
    recognition_batch_size: int = Field(
        1,
        gt=0,
        description="Lines per recogniser run; the deadline is checked between runs. One thread reads lines "
        "faster one by one than batched (a batch is padded to its widest line, and wide batches fall out of cache).",
    )
    max_line_aspect: float = Field(
        40.0,
        ge=4.0,
        description="Width-to-height ratio a line crop may have; wider crops are squeezed to it. Bounds the "
        "recogniser's input at 48 x 1920 px (its attention makes a line's cost grow faster than its width: "
        "~0.25 s for 1920 px on one thread); a 55-character English line is ~25.",
    )
    min_line_score: float = Field(
        0.5, ge=0.0, le=1.0, description="Recognised lines with a lower mean confidence are dropped."
    )
    deadline_s: float = Field(
        1.5,
        gt=0.0,
        description="Per-image time budget; no new stage starts past it (one running stage finishes: see "
        "the module docstring for the measured worst case).",
    )
    min_contrast: int = Field(
        8,
        ge=0,
        le=255,
        description="Images whose every colour channel spans fewer levels than this (blank, solid-colour) have no "
        "strokes to read: detection is skipped, and the result is complete and empty. 0 always detects.",
    )
    intra_op_threads: int = Field(1, ge=1, description="ONNX Runtime threads inside one operator.")
    inter_op_threads: int = Field(1, ge=1, description="ONNX Runtime threads across operators.")


@dataclass(frozen=True)
class OcrLine:
    """One recognised line. ``box``: four corners in the original image's pixels, clockwise from the
    top-left of the text; ``row``: lines sharing a row of text, in reading order, share it."""

    text: str
    score: float
    box: Quad
    row: int

    @property
    def rect(self) -> tuple[int, int, int, int]:
        """The box's axis-aligned bounds as (x, y, width, height)."""
        return quad_rect(self.box)


@dataclass(frozen=True)
class OcrResult:
    lines: tuple[OcrLine, ...]  # reading order: rows top to bottom, each left to right
    complete: bool  # False when boxes were left unread (the deadline, or more than max_lines)
    boxes_found: int
    boxes_read: int
    canvas_scale: float  # canvas pixels per original pixel
    elapsed_s: float


@dataclass(frozen=True)
class _Canvas:
    """The detector's input and how to map its coordinates back: original = canvas / scale - pad."""

    pixels: np.ndarray  # BGR, sides multiples of the detector stride
    scale: float
    pad_x: float  # in original pixels
    pad_y: float


def quad_rect(box: Quad) -> tuple[int, int, int, int]:
    xs, ys = [p[0] for p in box], [p[1] for p in box]
    x0, y0 = math.floor(min(xs)), math.floor(min(ys))
    return x0, y0, math.ceil(max(xs)) - x0, math.ceil(max(ys)) - y0


@dataclass(frozen=True)
class CanvasLayout:
    """Where an image goes on the detector's canvas: scaled by ``scale`` (both axes alike), its
    top-left corner at (left, top); the rest of the canvas is padding."""

    scale: float
    left: int
    top: int
    width: int  # the canvas, a multiple of the detector stride on each side
    height: int
    inner_width: int  # the scaled image
    inner_height: int


def canvas_layout(width: int, height: int, config: OcrConfig) -> CanvasLayout:
    """The image padded to the canvas aspect limit, scaled into the pixel budget (or up to
    ``upscale_to_side`` when small), and the canvas rounded up to the detector's stride."""
    pad_x = max(0.0, height / config.max_canvas_aspect - width) / 2
    pad_y = max(0.0, width / config.max_canvas_aspect - height) / 2
    padded_w, padded_h = width + 2 * pad_x, height + 2 * pad_y
    scale = math.sqrt(config.max_pixels / (padded_w * padded_h))
    longer = max(padded_w, padded_h)
    if scale > 1:  # within budget already: grow only to upscale_to_side
        scale = max(1.0, min(scale, config.upscale_to_side / longer))

    def stride_ceil(side: float) -> int:
        return max(_DETECTOR_STRIDE, math.ceil(side / _DETECTOR_STRIDE) * _DETECTOR_STRIDE)

    while stride_ceil(padded_w * scale) * stride_ceil(padded_h * scale) > config.max_pixels:
        scale *= _BUDGET_STEP  # the rounding up took it over budget
    return CanvasLayout(
        scale=scale,
        left=round(pad_x * scale),
        top=round(pad_y * scale),
        width=stride_ceil(padded_w * scale),
        height=stride_ceil(padded_h * scale),
        inner_width=max(1, round(width * scale)),
        inner_height=max(1, round(height * scale)),
    )


def to_bgr(image: Image.Image | np.ndarray) -> np.ndarray:
    """An RGB PIL image (what the validator decodes) or an RGB array as the BGR array the models expect."""
    import cv2

    if isinstance(image, Image.Image):
        array = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    else:
        array = np.asarray(image)
    if array.ndim == 2:
        return cv2.cvtColor(np.ascontiguousarray(array, dtype=np.uint8), cv2.COLOR_GRAY2BGR)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"expected an RGB image, got an array of shape {array.shape}")
    code = cv2.COLOR_RGB2BGR if array.shape[2] == 3 else cv2.COLOR_RGBA2BGR
    return cv2.cvtColor(np.ascontiguousarray(array, dtype=np.uint8), code)


def _session_config(section: dict[str, Any], config: OcrConfig, models: Path) -> dict[str, Any]:
    return {
        **section,
        "model_path": str(models / Path(section["model_path"]).name),
        "intra_op_num_threads": config.intra_op_threads,
        "inter_op_num_threads": config.inter_op_threads,
        "use_cuda": False,
        "use_dml": False,
    }


class OcrScreen:
    """Loaded once per replica (three ONNX sessions, ~16 MB of weights); ``read`` is not thread-safe
    (ONNX sessions are, the detector's pre-processing state is not): one call at a time per instance."""

    def __init__(self, config: OcrConfig | None = None) -> None:
        import cv2  # imported lazily, like every model library: a config with OCR off never loads it
        import rapidocr_onnxruntime
        from rapidocr_onnxruntime.ch_ppocr_cls import TextClassifier
        from rapidocr_onnxruntime.ch_ppocr_det import TextDetector
        from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer

        self.config = config or OcrConfig()
        package = Path(rapidocr_onnxruntime.__file__).parent
        shipped = yaml.safe_load((package / "config.yaml").read_text(encoding="utf-8"))
        models = package / "models"
        det = _session_config(shipped["Det"], self.config, models)
        det.update(
            # "min" with a zero limit is the library's only setting that leaves the canvas as sized
            # ("max" substitutes its own 960/1500/2000 px limits)
            limit_type="min",
            limit_side_len=0,
            thresh=self.config.binarize_threshold,
            box_thresh=self.config.box_threshold,
            unclip_ratio=self.config.unclip_ratio,
            max_candidates=self.config.max_candidates,
        )
        cls = _session_config(shipped["Cls"], self.config, models)
        cls.update(cls_batch_num=self.config.recognition_batch_size, cls_thresh=self.config.angle_threshold)
        rec = _session_config(shipped["Rec"], self.config, models)
        rec.update(rec_batch_num=self.config.recognition_batch_size)
        self._cv2 = cv2
        self.detector = TextDetector(det)
        self.classifier = TextClassifier(cls) if self.config.angle_classifier else None
        self.recognizer = TextRecognizer(rec)
        self.recognizer_height = int(rec["rec_img_shape"][1])
        self._characters: list[str] = list(self.recognizer.postprocess_op.character)
        self._space_index = self._characters.index(" ")

    def read(self, image: Image.Image | np.ndarray, deadline: float | None = None) -> OcrResult:
        """The text lines of one image. ``deadline``: a ``time.monotonic()`` instant that overrides
        ``config.deadline_s`` when sooner (the caller's per-image deadline)."""
        deadline = _sooner(deadline, time.monotonic() + self.config.deadline_s)
        return self.read_bgr(to_bgr(image), deadline)

    def read_bgr(self, original: np.ndarray, deadline: float | None = None) -> OcrResult:
        """``read`` of an image already converted by :func:`to_bgr` (screens of one image share it)."""
        started = time.monotonic()
        deadline = _sooner(deadline, started + self.config.deadline_s)
        if flat(original, self.config.min_contrast):
            return OcrResult((), True, 0, 0, 1.0, time.monotonic() - started)
        canvas = self._canvas(original)
        if time.monotonic() >= deadline:
            return OcrResult((), False, 0, 0, canvas.scale, time.monotonic() - started)
        boxes = self._detect(canvas)
        found = len(boxes)
        if found > self.config.max_lines:
            boxes = sorted(boxes, key=_area, reverse=True)[: self.config.max_lines]
        quads = [self._to_original(box, canvas, original.shape) for box in boxes]
        texts = self._recognize(original, quads, deadline)
        read = [(quad, text, score) for quad, (text, score) in zip(quads, texts, strict=True) if text is not None]
        lines = reading_order(
            [(quad, text, score) for quad, text, score in read if text.strip() and score >= self.config.min_line_score]
        )
        complete = found <= self.config.max_lines and len(read) == len(quads)
        return OcrResult(tuple(lines), complete, found, len(read), canvas.scale, time.monotonic() - started)

    def _canvas(self, original: np.ndarray) -> _Canvas:
        layout = canvas_layout(original.shape[1], original.shape[0], self.config)
        interpolation = self._cv2.INTER_AREA if layout.scale < 1 else self._cv2.INTER_LINEAR
        resized = self._cv2.resize(original, (layout.inner_width, layout.inner_height), interpolation=interpolation)
        pixels = np.zeros((layout.height, layout.width, 3), dtype=np.uint8)
        pixels[layout.top : layout.top + layout.inner_height, layout.left : layout.left + layout.inner_width] = resized
        return _Canvas(pixels, layout.scale, layout.left / layout.scale, layout.top / layout.scale)

    def _detect(self, canvas: _Canvas) -> list[np.ndarray]:
        boxes, _ = self.detector(canvas.pixels)
        if boxes is None or len(boxes) == 0:
            return []
        return [np.asarray(box, dtype=np.float32) for box in boxes]

    def _to_original(self, box: np.ndarray, canvas: _Canvas, shape: tuple[int, ...]) -> Quad:
        height, width = shape[:2]
        points = box / canvas.scale - np.array([canvas.pad_x, canvas.pad_y], dtype=np.float32)
        points[:, 0] = points[:, 0].clip(0, width)
        points[:, 1] = points[:, 1].clip(0, height)
        (a, b, c, d) = ((float(x), float(y)) for x, y in points)
        return (a, b, c, d)

    def _crop(self, original: np.ndarray, quad: Quad) -> np.ndarray:
        """The line (lengthened by ``line_end_padding`` at both ends) straightened out of the original
        pixels at (at most twice) the recogniser's height, then area-shrunk to it, and squeezed to
        ``max_line_aspect`` when wider. Warping straight to a small size keeps the cost per line
        independent of the original's resolution."""
        cv2 = self._cv2
        points = lengthened(quad, self.config.line_end_padding)
        width = max(1.0, float(max(np.linalg.norm(points[0] - points[1]), np.linalg.norm(points[2] - points[3]))))
        height = max(1.0, float(max(np.linalg.norm(points[0] - points[3]), np.linalg.norm(points[1] - points[2]))))
        vertical = height / width >= _VERTICAL_CROP_RATIO
        thickness = width if vertical else height
        scale = min(1.0, _WARP_HEADROOM * self.recognizer_height / thickness)
        warp_w, warp_h = max(1, round(width * scale)), max(1, round(height * scale))
        target = np.array([[0, 0], [warp_w, 0], [warp_w, warp_h], [0, warp_h]], dtype=np.float32)
        matrix = cv2.getPerspectiveTransform(points, target)
        crop = cv2.warpPerspective(
            original, matrix, (warp_w, warp_h), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_LINEAR
        )
        if vertical:
            crop = np.ascontiguousarray(np.rot90(crop))
            warp_w, warp_h = warp_h, warp_w
        line_h = min(warp_h, self.recognizer_height)
        line_w = max(1, min(round(warp_w * line_h / warp_h), round(line_h * self.config.max_line_aspect)))
        if (line_w, line_h) != (warp_w, warp_h):
            crop = cv2.resize(crop, (line_w, line_h), interpolation=cv2.INTER_AREA)
        return crop

    def _recognize(self, original: np.ndarray, quads: list[Quad], deadline: float) -> list[tuple[str | None, float]]:
        """(text, score) per box; ``(None, 0)`` for boxes left unread at the deadline. Lines are cut out
        batch by batch (the deadline bounds that work too), in order of width as the library does: a
        batch is padded to its widest line."""
        results: list[tuple[str | None, float]] = [(None, 0.0)] * len(quads)
        order = sorted(range(len(quads)), key=lambda i: _aspect(quads[i]))
        size = self.config.recognition_batch_size
        for begin in range(0, len(order), size):
            if time.monotonic() >= deadline:
                break
            batch = order[begin : begin + size]
            images = [self._crop(original, quads[i]) for i in batch]
            turned = self._upside_down(images)
            first = [
                np.ascontiguousarray(np.rot90(image, 2)) if turn else image
                for image, turn in zip(images, turned, strict=True)
            ]
            recognized = self._read_lines(first)
            if any(turned) and self.config.angle_check and time.monotonic() < deadline:
                again = [k for k, turn in enumerate(turned) if turn]
                for k, other in zip(again, self._read_lines([images[k] for k in again]), strict=True):
                    if other[1] > recognized[k][1]:
                        recognized[k] = other
            for i, found in zip(batch, recognized, strict=True):
                results[i] = found
        return results

    def _upside_down(self, images: list[np.ndarray]) -> list[bool]:
        """Which crops the angle classifier would turn 180° (the crops themselves are left as they are)."""
        if self.classifier is None:
            return [False] * len(images)
        _, labels, _ = self.classifier(images)  # it turns copies
        return [label == "180" and score > self.config.angle_threshold for label, score in labels]

    def _read_lines(self, images: list[np.ndarray]) -> list[tuple[str, float]]:
        """One recogniser run over ``images`` (padded to the widest, as the library does), decoded by
        :func:`ctc_decode` with space recovery."""
        recognizer = self.recognizer
        _, height, width = recognizer.rec_image_shape[:3]
        ratio = max([width / height] + [image.shape[1] / image.shape[0] for image in images])
        batch = np.concatenate([recognizer.resize_norm_img(image, ratio)[np.newaxis] for image in images])
        probabilities = recognizer.session(batch.astype(np.float32))[0]
        return [
            ctc_decode(row, self._characters, self._space_index, self.config.space_probability) for row in probabilities
        ]


def flat(pixels: np.ndarray, min_contrast: int) -> bool:
    """Whether no colour channel of ``pixels`` spans ``min_contrast`` levels: a picture of one colour
    (a placeholder, a swatch) where a detector pass (~0.1 s at the upscaled size) cannot find a stroke.
    A few milliseconds for a 1024x768 image (OpenCV's min/max per channel)."""
    import cv2

    if min_contrast <= 0:
        return False
    if pixels.size == 0:
        return True
    channels = cv2.split(pixels) if pixels.ndim == 3 else [pixels]
    return all(high - low < min_contrast for low, high, *_ in (cv2.minMaxLoc(c) for c in channels))


def lengthened(quad: Quad, padding: float) -> np.ndarray:
    """The quad's corners with both ends moved out along the text by ``padding`` times its height (the
    reading direction is top-left to top-right; a vertical crop, taller than wide, grows along its height)."""
    points = np.array(quad, dtype=np.float32)
    if padding <= 0:
        return points
    along = (points[1] - points[0] + points[2] - points[3]) / 2
    across = (points[3] - points[0] + points[2] - points[1]) / 2
    length, thickness = float(np.linalg.norm(along)), float(np.linalg.norm(across))
    if length < 1e-6 or thickness < 1e-6:
        return points
    if thickness / length >= _VERTICAL_CROP_RATIO:
        along, length, thickness = across, thickness, length
        shift = along / length * padding * thickness
        return points + np.stack([-shift, -shift, shift, shift])
    shift = along / length * padding * thickness
    return points + np.stack([-shift, shift, shift, -shift])


def _spaced(character: str) -> bool:
    """Whether a script puts spaces between its words: not CJK ideographs, kana, hangul or full-width forms."""
    return unicodedata.east_asian_width(character) not in ("W", "F")


def ctc_decode(
    probabilities: np.ndarray, characters: Sequence[str], space_index: int, space_probability: float | None
) -> tuple[str, float]:
    """Greedy CTC decoding of one line (``probabilities``: time steps x classes, class 0 the blank) with
    space recovery: between two consecutive characters that are both of a spaced script (see
    :func:`_spaced`; an underscore is a handle's own joiner and never gets one), a space is read where
    the space class's probability reaches ``space_probability`` at some time step of the gap. The score
    is the mean probability of the characters the argmax chose (recovered spaces do not count)."""
    best = probabilities.argmax(axis=1)
    chosen = np.ones(len(best), dtype=bool)
    chosen[1:] = best[1:] != best[:-1]
    chosen &= best != 0
    steps = np.flatnonzero(chosen)
    if len(steps) == 0:
        return "", 0.0
    score = float(probabilities[steps, best[steps]].mean())
    space = probabilities[:, space_index]
    text: list[str] = []
    previous = -1
    for step in steps:
        character = characters[int(best[step])]
        if (
            space_probability is not None
            and previous >= 0
            and character != " "
            and text[-1] != " "
            and step - previous > 1
            and _spaced(character)
            and _spaced(text[-1])
            and "_" not in (character, text[-1])
            and float(space[previous + 1 : step].max()) >= space_probability
        ):
            text.append(" ")
        text.append(character)
        previous = int(step)
    return "".join(text), score


def _aspect(quad: Quad) -> float:
    width = math.dist(quad[0], quad[1])
    height = max(1.0, math.dist(quad[0], quad[3]))
    return width / height if width >= height else height / width


def _sooner(deadline: float | None, own: float) -> float:
    return own if deadline is None else min(deadline, own)


def _area(box: np.ndarray) -> float:
    x, y = box[:, 0], box[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def reading_order(read: list[tuple[Quad, str, float]]) -> list[OcrLine]:
    """Rows top to bottom, each left to right: a box joins the row whose vertical centre lies within
    half of its own height (works for text tilted up to ~15°, where the box's corners do not line up)."""
    placed: list[tuple[float, float, float, Quad, str, float]] = []  # (centre y, half height, left x, ...)
    for quad, text, score in read:
        ys = [p[1] for p in quad]
        centre_y = sum(ys) / 4
        half_height = (math.dist(quad[0], quad[3]) + math.dist(quad[1], quad[2])) / 4
        placed.append((centre_y, half_height, min(p[0] for p in quad), quad, text, score))
    placed.sort(key=lambda item: item[0])
    rows: list[list[tuple[float, float, float, Quad, str, float]]] = []
    for item in placed:
        if rows:
            row_centre = sum(member[0] for member in rows[-1]) / len(rows[-1])
            if abs(item[0] - row_centre) <= max(item[1], min(member[1] for member in rows[-1])):
                rows[-1].append(item)
                continue
        rows.append([item])
    lines: list[OcrLine] = []
    for row_index, row in enumerate(rows):
        for _, _, _, quad, text, score in sorted(row, key=lambda member: member[2]):
            lines.append(OcrLine(text, score, quad, row_index))
    return lines
