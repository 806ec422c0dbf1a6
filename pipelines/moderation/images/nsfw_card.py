"""The converted NSFW model on disk: an ONNX file and its card (where it came from, how to feed it).

The converter (``nsfw_convert``, at setup) writes both; the screener (``nsfw``, at run time) reads
them. No torch here: a screening replica loads the ONNX file with onnxruntime only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipelines.core.files import file_sha256

# Bumped whenever the card or the exported graph changes: an older conversion is then redone.
CARD_FORMAT_VERSION = 2
MODEL_STEM = "mobilenet_v2"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSource(_Strict):
    package: str = Field(description="npm package the weights come from.")
    version: str
    integrity: str = Field(description="npm's `sha512-...` integrity string of the package tarball.")
    sha256: str = Field(description="SHA-256 (hex) of the package tarball.")
    model: str = Field(description="Which of the package's models this is (its loader's name).")
    files: list[str] = Field(description="Tarball members the topology, weights and constants were read from.")
    licence: str


class Preprocessing(_Strict):
    """What nsfwjs's ``infer`` does to an RGB image before the network (its dist/cjs/core.js)."""

    size: int = Field(gt=0, description="Square input side; images of another size are resized to it.")
    pixel_divisor: float = Field(gt=0.0, description="Pixels (0-255) are divided by it: 255 maps them to [0, 1].")
    resize: Literal["bilinear_align_corners"] = Field(
        description="tf.image.resizeBilinear(alignCorners=true), applied after the division, as nsfwjs does."
    )


class ModelCard(_Strict):
    format_version: int
    source: ModelSource
    classes: list[str] = Field(description="Order of the output probabilities (lower case).")
    preprocessing: Preprocessing
    input_name: str = Field(description="ONNX input: float32 [batch, size, size, 3], channels last.")
    output_name: str = Field(description="ONNX output: float32 [batch, classes], softmax probabilities.")
    model_file: str = Field(description="The ONNX file, beside the card.")
    model_sha256: str


class ModelFiles:
    """``<dir>/mobilenet_v2.json`` (the card, written last: it marks a complete conversion) and the model."""

    def __init__(self, directory: Path, stem: str = MODEL_STEM) -> None:
        self.directory = directory
        self.card = directory / f"{stem}.json"
        self.model = directory / f"{stem}.onnx"


def read_card(files: ModelFiles) -> ModelCard:
    return ModelCard.model_validate_json(files.card.read_text(encoding="utf-8"))


def verified_card(files: ModelFiles) -> ModelCard:
    """The card, once its format is current and its model file is the one it was written with."""
    card = read_card(files)
    if card.format_version != CARD_FORMAT_VERSION:
        raise ValueError(f"{files.card}: format {card.format_version}, expected {CARD_FORMAT_VERSION}: reconvert")
    model = files.directory / card.model_file
    if file_sha256(model) != card.model_sha256:
        raise ValueError(f"{model}: SHA-256 differs from its card: reconvert")
    return card
