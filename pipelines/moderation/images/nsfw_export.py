"""The nsfwjs package's default model, read from its tarball, as an ONNX file and its card.

The heavy half of the setup conversion (``nsfw_convert`` fetches and pins the package, and calls
:func:`convert_tarball` only when there is something to convert). See ``nsfw_convert`` for the
decisions: read, never run, the package's JavaScript; dequantise as tfjs does; no TensorFlow.

The steps: ``nsfw_package`` reads the tarball, ``nsfw_topology`` turns the Keras topology into layer specs,
``nsfw_weights`` decodes the weights; this module builds the network, exports it and writes the card.
"""

from __future__ import annotations

import os
import tarfile
import warnings
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from pipelines.core.files import file_sha256
from pipelines.moderation.images.nsfw_card import (
    CARD_FORMAT_VERSION,
    ModelCard,
    ModelSource,
    Preprocessing,
)
from pipelines.moderation.images.nsfw_convert import (
    NSFWJS_INTEGRITY,
    NSFWJS_LICENCE,
    NSFWJS_SHA256,
    NSFWJS_VERSION,
    ConversionError,
    ConvertSettings,
)
from pipelines.moderation.images.nsfw_net import KerasGraphNet
from pipelines.moderation.images.nsfw_package import (
    CLASSES_MEMBER,
    CORE_MEMBER,
    LICENCE_MEMBER,
    MODEL_MEMBER_DIR,
    assigned_literal,
    declared_literal,
    exported_base64,
    read_member,
)
from pipelines.moderation.images.nsfw_topology import layer_specs
from pipelines.moderation.images.nsfw_weights import decode_weights, state_dict

# The default model (index.js DEFAULT_MODEL_NAME = "MobileNetV2"; ``nsfw_package`` knows where the package
# keeps it) and the ONNX model's input and output names.
MODEL_NAME = "MobileNetV2"
ONNX_INPUT = "images"
ONNX_OUTPUT = "probabilities"


# --- the conversion -----------------------------------------------------------------------------


def export_onnx(net: KerasGraphNet, path: Path, settings: ConvertSettings) -> None:
    """The network as ONNX, batch size free, then run in onnxruntime against torch on a fixed batch."""
    height, width, channels = net.input_shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and constant-folding notes
        torch.onnx.export(
            net,
            (torch.zeros(1, height, width, channels),),
            str(path),
            input_names=[ONNX_INPUT],
            output_names=[ONNX_OUTPUT],
            dynamic_axes={ONNX_INPUT: {0: "batch"}, ONNX_OUTPUT: {0: "batch"}},
            opset_version=settings.onnx_opset,
            dynamo=False,  # the tracing exporter: the graph walk is plain Python over fixed shapes
            do_constant_folding=False,  # 3x faster export; onnxruntime folds constants when it loads the model
        )
    batch = np.random.default_rng(0).random((2, height, width, channels), dtype=np.float32)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    exported = session.run([ONNX_OUTPUT], {ONNX_INPUT: batch})[0]
    with torch.inference_mode():
        expected = net(torch.from_numpy(batch)).numpy()
    difference = float(np.abs(exported - expected).max())
    if difference > settings.export_tolerance:
        raise ConversionError(f"the ONNX export differs from the network by {difference:.2e}")


def convert_tarball(tarball: Path, settings: ConvertSettings) -> ModelCard:
    """Read the pinned tarball's default model and write the converted network and its card."""
    limit = settings.max_member_bytes
    with tarfile.open(tarball, "r:gz") as archive:
        model_member = f"{MODEL_MEMBER_DIR}/model.min.js"
        model_json = assigned_literal(read_member(archive, model_member, limit), "exports")
        manifest = model_json["weightsManifest"]
        paths = [path for group in manifest for path in group["paths"]]
        shard_members = [f"{MODEL_MEMBER_DIR}/{path}.min.js" for path in paths]  # base64 bundled as JS
        shards = {
            path: exported_base64(read_member(archive, member, limit))
            for path, member in zip(paths, shard_members, strict=True)
        }
        classes_literal = assigned_literal(read_member(archive, CLASSES_MEMBER, limit), "NSFW_CLASSES")
        image_size = declared_literal(read_member(archive, CORE_MEMBER, limit), "IMAGE_SIZE")
        read_member(archive, LICENCE_MEMBER, limit)  # the MIT licence must ship with the weights
    specs, output = layer_specs(model_json["modelTopology"]["model_config"])
    net = KerasGraphNet(specs, output).eval()
    if net.input_shape != (image_size, image_size, 3):
        raise ConversionError(f"model input {net.input_shape} differs from nsfwjs's IMAGE_SIZE {image_size}")
    net.load_state_dict(state_dict(specs, decode_weights(manifest, shards)), strict=True)
    classes = [str(classes_literal[str(i)]).lower() for i in range(len(classes_literal))]

    files = settings.files
    files.directory.mkdir(parents=True, exist_ok=True)
    staged = files.model.with_suffix(".onnx.tmp")
    export_onnx(net, staged, settings)
    card = ModelCard(
        format_version=CARD_FORMAT_VERSION,
        source=ModelSource(
            package="nsfwjs",
            version=NSFWJS_VERSION,
            integrity=NSFWJS_INTEGRITY,
            sha256=NSFWJS_SHA256,
            model=MODEL_NAME,
            files=[model_member, *shard_members, CLASSES_MEMBER, CORE_MEMBER],
            licence=NSFWJS_LICENCE,
        ),
        classes=classes,
        preprocessing=Preprocessing(size=image_size, pixel_divisor=255.0, resize="bilinear_align_corners"),
        input_name=ONNX_INPUT,
        output_name=ONNX_OUTPUT,
        model_file=files.model.name,
        model_sha256=file_sha256(staged),
    )
    os.replace(staged, files.model)
    card_staged = files.card.with_suffix(".json.tmp")
    card_staged.write_text(card.model_dump_json(indent=1), encoding="utf-8")
    os.replace(card_staged, files.card)  # the card last: it marks a complete conversion
    return card
