"""An always-on, permissive NSFW image screen: nsfwjs's MobileNetV2, converted to ONNX at setup.

nsfwjs (MIT) classifies an image as drawing / hentai / neutral / porn / sexy. ``porn`` and
``hentai`` map onto the policy's ``sexual`` category; ``sexy`` (swimwear, lingerie, suggestive poses)
does too but with a higher threshold, since a shop shows swimwear; ``drawing`` and ``neutral`` never
do. Thresholds are per class and live in the policy file (``nsfw_policy.NsfwPolicy``).

Decisions:

* Preprocessing is nsfwjs's own (``infer`` in its ``dist/cjs/core.js``): RGB pixels / 255, then a
  stretch to 224 x 224 with ``tf.image.resizeBilinear(alignCorners=true)``, the aspect ratio not
  kept. It is reproduced to the float64 arithmetic of tfjs's CPU kernel, sampling only the 4 x 224 x
  224 source pixels it reads: no full-size float copy is made, and past reading the decoded pixels
  the cost does not grow with the image. The dev parity test holds preprocessing and network to
  nsfwjs within 1e-3.
* onnxruntime on the CPU, one intra-op thread per session by default (image screening shares a
  replica's cores; no process-wide setting is touched), ``batch_size`` images per run: about 25 ms
  per image on an idle core, whatever its size. No torch at run time.
* A hit's score is the triggering class's probability; the screen only reports classes at or above
  their threshold, so the policy's own ``threshold`` for the category must not be above them
  (:meth:`NsfwPolicy.check`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from pipelines.core.paths import resolve_path
from pipelines.moderation.images.nsfw_card import ModelFiles, verified_card
from pipelines.moderation.images.nsfw_policy import NsfwPolicy
from pipelines.moderation.text.detectors import Hit


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NsfwConfig(_Strict):
    """How the screen runs (part of the image screening config); what it flags is the policy's
    (:class:`~pipelines.moderation.images.nsfw_policy.NsfwPolicy`)."""

    enabled: bool = Field(True, description="Screen every input image with nsfwjs's MobileNetV2 (CPU, ~30 ms).")
    model_dir: str = Field(
        ".cache/nsfw", description="The converted model (`make setup` writes it); relative to the project root."
    )
    batch_size: int = Field(
        1,
        gt=0,
        description="Images per onnxruntime run (about 20 MB of memory each). One is the fastest per image on one "
        "thread here (34 ms vs 47-55 ms at 2-8: MobileNetV2's activations stop fitting the caches).",
    )
    threads: int = Field(1, gt=0, description="onnxruntime intra-op threads of the screen's session.")


class NsfwModelMissing(RuntimeError):
    """The converted model is not there (or is stale): ``make setup`` converts it."""


@dataclass(frozen=True)
class NsfwScores:
    """One image's class probabilities, in the model's class order."""

    probabilities: dict[str, float]


def nsfwjs_input(image: Image.Image, size: int, divisor: float) -> np.ndarray:
    """nsfwjs's preprocessing of one image: float32 [size, size, 3] in [0, 1].

    tfjs's CPU ``resizeBilinear`` with ``alignCorners``: source row ``r * (H - 1) / (size - 1)``,
    floor/ceil neighbours, interpolated in double precision on float32 pixels, stored as float32.
    """
    pixels = np.asarray(image if image.mode == "RGB" else image.convert("RGB"), dtype=np.uint8)
    return resize_like_nsfwjs(pixels, size, divisor)


def _sample_axis(old: int, new: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ratio = (old - 1) / (new - 1) if new > 1 else old / new
    source = ratio * np.arange(new, dtype=np.float64)
    floor = np.maximum(0, np.floor(source)).astype(np.intp)
    ceil = np.minimum(old - 1, np.ceil(source)).astype(np.intp)
    return floor, ceil, source - floor


def resize_like_nsfwjs(pixels: np.ndarray, size: int, divisor: float) -> np.ndarray:
    """uint8 [H, W, 3] -> float32 [size, size, 3]: ``pixels / divisor`` (float32), then the resize."""
    scale = np.float32(divisor)
    height, width, _ = pixels.shape
    if (height, width) == (size, size):
        return pixels.astype(np.float32) / scale
    row0, row1, row_frac = _sample_axis(height, size)
    col0, col1, col_frac = _sample_axis(width, size)

    def corner(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return (pixels[rows][:, cols].astype(np.float32) / scale).astype(np.float64)

    top_left, top_right = corner(row0, col0), corner(row0, col1)
    bottom_left, bottom_right = corner(row1, col0), corner(row1, col1)
    col_frac = col_frac[None, :, None]
    top = top_left + (top_right - top_left) * col_frac
    bottom = bottom_left + (bottom_right - bottom_left) * col_frac
    return (top + (bottom - top) * row_frac[:, None, None]).astype(np.float32)


class NsfwClassifier:
    """The converted network and its card; ``predict`` runs nsfwjs's preprocessing and the model."""

    def __init__(self, model_dir: str | Path, threads: int = 1) -> None:
        """``threads``: onnxruntime intra-op threads (``NsfwConfig.threads``)."""
        files = ModelFiles(Path(model_dir))
        if not files.card.is_file():
            raise NsfwModelMissing(
                f"{files.card} not found: run `make setup` (python -m pipelines.moderation.images.nsfw_convert convert)"
            )
        try:
            self.card = verified_card(files)
        except (OSError, ValueError) as exc:
            raise NsfwModelMissing(f"{files.card}: {exc}") from exc
        import onnxruntime  # imported lazily: the screen's config is part of every policy config

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(files.directory / self.card.model_file), options, providers=["CPUExecutionProvider"]
        )
        self.classes = list(self.card.classes)
        self.size = self.card.preprocessing.size
        self.divisor = self.card.preprocessing.pixel_divisor

    def preprocess(self, image: Image.Image) -> np.ndarray:
        return nsfwjs_input(image, self.size, self.divisor)

    def predict_tensor(self, batch: np.ndarray) -> np.ndarray:
        """Class probabilities [N, classes] of preprocessed float32 [N, size, size, 3] input."""
        inputs = {self.card.input_name: np.ascontiguousarray(batch, dtype=np.float32)}
        return self.session.run([self.card.output_name], inputs)[0]

    def predict(self, images: Sequence[Image.Image], batch_size: int) -> np.ndarray:
        out = [np.zeros((0, len(self.classes)), np.float32)]
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            out.append(self.predict_tensor(np.stack([self.preprocess(image) for image in chunk])))
        return np.concatenate(out)


class NsfwScreener:
    """An :class:`~pipelines.moderation.images.screeners.ImageScreener`: one hit per image and flagging class.

    ``policy`` may be replaced when the policy file is reloaded (the model stays loaded).
    """

    name = "nsfwjs"

    def __init__(
        self, config: NsfwConfig, policy: NsfwPolicy | None = None, classifier: NsfwClassifier | None = None
    ) -> None:
        self.config = config
        if classifier is None:
            classifier = NsfwClassifier(resolve_path(config.model_dir), config.threads)
        self.classifier = classifier
        self.policy = policy if policy is not None else NsfwPolicy()

    @property
    def policy(self) -> NsfwPolicy:
        return self._policy

    @policy.setter
    def policy(self, policy: NsfwPolicy) -> None:
        unknown = [name for name, _ in policy.thresholds.items() if name not in self.classifier.classes]
        if unknown:
            raise ValueError(f"nsfw thresholds for classes the model lacks: {unknown}")
        self._policy = policy

    def classify(self, images: Sequence[Image.Image]) -> list[NsfwScores]:
        probabilities = self.classifier.predict(list(images), self.config.batch_size)
        return [
            NsfwScores({name: float(p) for name, p in zip(self.classifier.classes, row, strict=True)})
            for row in probabilities
        ]

    def flagged(self, scores: NsfwScores) -> list[tuple[str, float]]:
        return self.policy.flagged(scores.probabilities)

    def screen(self, images: Sequence[Image.Image]) -> list[Hit]:
        if not images:
            return []
        policy = self.policy  # one policy for the whole call, even if it is replaced meanwhile
        return [
            Hit(policy.category, 0, 0, probability, self.name, name)
            for scores in self.classify(images)
            for name, probability in policy.flagged(scores.probabilities)
        ]
