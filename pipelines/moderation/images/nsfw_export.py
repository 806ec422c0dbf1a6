"""The nsfwjs package's default model, read from its tarball, as an ONNX file and its card.

The heavy half of the setup conversion (``nsfw_convert`` fetches and pins the package, and calls
:func:`convert_tarball` only when there is something to convert). See ``nsfw_convert`` for the
decisions: read, never run, the package's JavaScript; dequantise as tfjs does; no TensorFlow.
"""

from __future__ import annotations

import base64
import os
import re
import tarfile
import warnings
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import esprima
import numpy as np
import onnxruntime
import torch

from pipelines.moderation.images.nsfw_card import (
    CARD_FORMAT_VERSION,
    ModelCard,
    ModelSource,
    Preprocessing,
    file_sha256,
)
from pipelines.moderation.images.nsfw_convert import (
    NSFWJS_INTEGRITY,
    NSFWJS_LICENCE,
    NSFWJS_SHA256,
    NSFWJS_VERSION,
    ConversionError,
    ConvertSettings,
)
from pipelines.moderation.images.nsfw_net import (
    AddSpec,
    AveragePoolSpec,
    BatchNormSpec,
    ConvSpec,
    DenseSpec,
    DepthwiseConvSpec,
    DropoutSpec,
    FlattenSpec,
    InputSpec,
    KerasGraphNet,
    LayerSpec,
    ReLUSpec,
    ZeroPaddingSpec,
)

# The default model (index.js DEFAULT_MODEL_NAME = "MobileNetV2") and where the package keeps it.
MODEL_NAME = "MobileNetV2"
MODEL_MEMBER_DIR = "package/dist/models/mobilenet_v2"
CLASSES_MEMBER = "package/dist/cjs/nsfw_classes.js"
CORE_MEMBER = "package/dist/cjs/core.js"
LICENCE_MEMBER = "package/LICENSE"
ONNX_INPUT = "images"
ONNX_OUTPUT = "probabilities"


# --- reading the package ------------------------------------------------------------------------


def read_member(archive: tarfile.TarFile, name: str, limit: int) -> str:
    try:
        member = archive.getmember(name)
    except KeyError as exc:
        raise ConversionError(f"the package has no {name}") from exc
    if not member.isfile() or member.size > limit:
        raise ConversionError(f"{name}: not a regular file of at most {limit} bytes")
    handle = archive.extractfile(member)
    if handle is None:
        raise ConversionError(f"{name}: unreadable")
    return handle.read().decode("utf-8")


def _nodes(node: Any) -> Iterator[Any]:
    """Every esprima node under ``node`` (iteratively: a bundle nests deeper than is safe to recurse)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, esprima.nodes.Node):
            yield current
            stack.extend(vars(current).values())
        elif isinstance(current, list):
            stack.extend(current)


def js_literal(node: Any) -> Any:
    """A JavaScript literal expression (objects, arrays, strings, numbers, ``!0``/``!1``, ``-x``) as Python."""
    kind = node.type
    if kind == "Literal":
        return node.value
    if kind == "ObjectExpression":
        out: dict[str, Any] = {}
        for prop in node.properties:
            if prop.type != "Property" or prop.computed:
                raise ConversionError(f"unsupported object property {prop.type}")
            key = prop.key.name if prop.key.type == "Identifier" else prop.key.value
            out[str(key)] = js_literal(prop.value)
        return out
    if kind == "ArrayExpression":
        return [js_literal(element) for element in node.elements]
    if kind == "UnaryExpression" and node.operator == "!":
        return not js_literal(node.argument)
    if kind == "UnaryExpression" and node.operator == "-":
        return -js_literal(node.argument)
    raise ConversionError(f"not a literal: {kind}")


def assigned_literal(source: str, target: str) -> Any:
    """The literal assigned to ``<anything>.<target>`` in a script (a bundle's ``module.exports = {...}``)."""
    for node in _nodes(esprima.parseScript(source)):
        if (
            node.type == "AssignmentExpression"
            and node.left.type == "MemberExpression"
            and not node.left.computed
            and node.left.property.name == target
            and node.right.type in ("ObjectExpression", "ArrayExpression", "Literal")
        ):
            return js_literal(node.right)
    raise ConversionError(f"no literal assigned to .{target}")


# A weight shard module is one base64 string literal in a browserify wrapper: ``h.exports="..."``.
_BASE64_EXPORT = re.compile(r'\.exports="([A-Za-z0-9+/]*={0,2})"')


def exported_base64(source: str) -> bytes:
    """The bytes of a shard module's one exported base64 literal.

    A strict, linear-time pattern instead of the JavaScript parser, which needs seconds for the
    3.5 MB string; the decoded length is checked against the weight manifest afterwards.
    """
    found = _BASE64_EXPORT.findall(source)
    if len(found) != 1:
        raise ConversionError(f"expected one exported base64 literal, found {len(found)}")
    return base64.b64decode(found[0], validate=True)


def declared_literal(source: str, name: str) -> Any:
    """The literal initialising ``var <name> = ...`` in a script."""
    for node in _nodes(esprima.parseScript(source)):
        if node.type == "VariableDeclarator" and node.id.name == name and node.init is not None:
            return js_literal(node.init)
    raise ConversionError(f"no variable {name} with a literal value")


# --- topology -----------------------------------------------------------------------------------

_ACTIVATIONS = ("linear", "relu", "softmax")
Shape = tuple[int, ...]


def _inbound(layer: dict[str, Any]) -> list[str]:
    nodes = layer.get("inbound_nodes", [])
    if not nodes:
        return []
    if len(nodes) != 1:
        raise ConversionError(f"layer {layer['name']} is shared ({len(nodes)} calls): unsupported")
    names = []
    for source, node_index, tensor_index, *_ in nodes[0]:
        if node_index != 0 or tensor_index != 0:
            raise ConversionError(f"layer {layer['name']}: multi-output inputs are unsupported")
        names.append(source)
    return names


def _option(cfg: dict[str, Any], name: str, key: str, allowed: tuple[Any, ...]) -> Any:
    """A config value this converter supports (the first allowed value when it is absent)."""
    value = cfg.get(key, allowed[0])
    if value not in allowed:
        raise ConversionError(f"layer {name}: {key}={value!r} is unsupported (supported: {allowed})")
    return value


def tf_same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's ``same`` padding along one axis: (before, after), the odd pixel after."""
    effective = (kernel - 1) * dilation + 1
    total = max((-(-size // stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


# Each translator: (layer name, its config, its inputs, the input shapes) -> (spec, output shape).
# Image shapes are (height, width, channels); a flattened one is (features,).
_Translated = tuple[LayerSpec, Shape]


def _input(name: str, cfg: dict[str, Any], inputs: list[str], shapes: list[Shape]) -> _Translated:
    _, height, width, channels = cfg["batch_input_shape"]
    return InputSpec(name=name, shape=(height, width, channels)), (height, width, channels)


def _zero_padding(name: str, cfg: dict[str, Any], inputs: list[str], shapes: list[Shape]) -> _Translated:
    (top, bottom), (left, right) = cfg["padding"]
    height, width, channels = shapes[0]
    spec = ZeroPaddingSpec(name=name, inputs=inputs, padding=((top, bottom), (left, right)))
    return spec, (height + top + bottom, width + left + right, channels)


def _convolution(
    name: str, cfg: dict[str, Any], inputs: list[str], shapes: list[Shape], depthwise: bool
) -> _Translated:
    height, width, channels = shapes[0]
    kernel, strides, dilation = cfg["kernel_size"], cfg["strides"], cfg.get("dilation_rate", [1, 1])
    mode = _option(cfg, name, "padding", ("valid", "same"))
    pads = [
        tf_same_padding(size, kernel[axis], strides[axis], dilation[axis]) if mode == "same" else (0, 0)
        for axis, size in enumerate((height, width))
    ]
    common = {
        "name": name,
        "inputs": inputs,
        "channels": channels,
        "kernel_size": kernel,
        "strides": strides,
        "dilation_rate": dilation,
        "padding": (pads[0], pads[1]),
        "use_bias": cfg["use_bias"],
        "activation": _option(cfg, name, "activation", _ACTIVATIONS),
    }
    spec: LayerSpec
    if depthwise:
        spec = DepthwiseConvSpec(depth_multiplier=cfg["depth_multiplier"], **common)
        out_channels = channels * cfg["depth_multiplier"]
    else:
        _option(cfg, name, "groups", (1,))
        spec, out_channels = ConvSpec(filters=cfg["filters"], **common), cfg["filters"]
    sizes = [
        (size + sum(pads[axis]) - (kernel[axis] - 1) * dilation[axis] - 1) // strides[axis] + 1
        for axis, size in enumerate((height, width))
    ]
    return spec, (*sizes, out_channels)


def _batch_norm(name: str, cfg: dict[str, Any], inputs: list[str], shapes: list[Shape]) -> _Translated:
    _option(cfg, name, "axis", (-1, 3))  # the channels of NHWC
    return BatchNormSpec(name=name, inputs=inputs, channels=shapes[0][2], epsilon=cfg["epsilon"]), shapes[0]


def _relu(name: str, cfg: dict[str, Any], inputs: list[str], shapes: list[Shape]) -> _Translated:
    _option(cfg, name, "negative_slope", (0,))
    _option(cfg, name, "threshold", (0,))
    return ReLUSpec(name=name, inputs=inputs, max_value=cfg.get("max_value")), shapes[0]


def _add(name: str, cfg: dict[str, Any], inputs: list[str], shapes: list[Shape]) -> _Translated:
    if len(set(shapes)) != 1:
        raise ConversionError(f"layer {name}: Add of different shapes {shapes}")
    return AddSpec(name=name, inputs=inputs), shapes[0]


def _average_pool(name: str, cfg: dict[str, Any], inputs: list[str], shapes: list[Shape]) -> _Translated:
    _option(cfg, name, "padding", ("valid",))
    pool, strides = cfg["pool_size"], cfg.get("strides") or cfg["pool_size"]
    height, width, channels = shapes[0]
    spec = AveragePoolSpec(name=name, inputs=inputs, pool_size=pool, strides=strides)
    return spec, ((height - pool[0]) // strides[0] + 1, (width - pool[1]) // strides[1] + 1, channels)


def _flatten(name: str, cfg: dict[str, Any], inputs: list[str], shapes: list[Shape]) -> _Translated:
    return FlattenSpec(name=name, inputs=inputs), (int(np.prod(shapes[0])),)


def _dense(name: str, cfg: dict[str, Any], inputs: list[str], shapes: list[Shape]) -> _Translated:
    if len(shapes[0]) != 1:
        raise ConversionError(f"layer {name}: Dense on a {len(shapes[0])}-d input is unsupported")
    activation = _option(cfg, name, "activation", _ACTIVATIONS)
    spec = DenseSpec(
        name=name,
        inputs=inputs,
        in_features=shapes[0][0],
        units=cfg["units"],
        use_bias=cfg["use_bias"],
        activation=activation,
    )
    return spec, (cfg["units"],)


def _dropout(name: str, cfg: dict[str, Any], inputs: list[str], shapes: list[Shape]) -> _Translated:
    return DropoutSpec(name=name, inputs=inputs), shapes[0]


_TRANSLATORS: dict[str, Callable[[str, dict[str, Any], list[str], list[Shape]], _Translated]] = {
    "InputLayer": _input,
    "ZeroPadding2D": _zero_padding,
    "Conv2D": partial(_convolution, depthwise=False),
    "DepthwiseConv2D": partial(_convolution, depthwise=True),
    "BatchNormalization": _batch_norm,
    "ReLU": _relu,
    "Add": _add,
    "AveragePooling2D": _average_pool,
    "Flatten": _flatten,
    "Dense": _dense,
    "Dropout": _dropout,
}


def layer_specs(model_config: dict[str, Any]) -> tuple[list[LayerSpec], str]:
    """Typed layer specs (with inferred channel counts) and the output layer of a Keras ``Model``."""
    if model_config.get("class_name") not in ("Model", "Functional"):
        raise ConversionError(f"expected a functional Keras model, got {model_config.get('class_name')}")
    config = model_config["config"]
    outputs = config["output_layers"]
    if len(outputs) != 1 or len(config["input_layers"]) != 1:
        raise ConversionError("expected one input and one output")
    specs: list[LayerSpec] = []
    shapes: dict[str, Shape] = {}
    for layer in config["layers"]:
        name, kind, cfg = layer["name"], layer["class_name"], layer["config"]
        translate = _TRANSLATORS.get(kind)
        if translate is None:
            raise ConversionError(f"layer {name}: Keras layer {kind} is unsupported")
        if "data_format" in cfg:
            _option(cfg, name, "data_format", ("channels_last",))
        inputs = _inbound(layer)
        spec, shapes[name] = translate(name, cfg, inputs, [shapes[source] for source in inputs])
        specs.append(spec)
    return specs, outputs[0][0]


# --- weights ------------------------------------------------------------------------------------

_PLAIN_DTYPES = {"float32": "<f4"}
_QUANTISED_DTYPES = {"uint8": "<u1", "uint16": "<u2", "float16": "<f2"}


def decode_weights(manifest: list[dict[str, Any]], shards: dict[str, bytes]) -> dict[str, np.ndarray]:
    """tfjs's ``decodeWeights`` for float32 weights, plain or quantised (uint8/uint16 affine, float16)."""
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join(shards[path] for path in group["paths"])
        offset = 0
        for spec in group["weights"]:
            name, shape, dtype = spec["name"], tuple(spec["shape"]), spec["dtype"]
            if dtype != "float32":
                raise ConversionError(f"weight {name}: dtype {dtype} is unsupported")
            quantization = spec.get("quantization")
            stored = quantization["dtype"] if quantization else dtype
            numpy_dtype = _QUANTISED_DTYPES.get(stored) if quantization else _PLAIN_DTYPES.get(stored)
            if numpy_dtype is None:
                raise ConversionError(f"weight {name}: storage {stored} is unsupported")
            count = int(np.prod(shape))
            if offset + count * np.dtype(numpy_dtype).itemsize > len(data):
                raise ConversionError(f"weight {name}: the shards end before it does")
            raw = np.frombuffer(data, dtype=numpy_dtype, count=count, offset=offset)
            offset += raw.nbytes
            if quantization and stored in ("uint8", "uint16"):
                values = (raw.astype(np.float64) * quantization["scale"] + quantization["min"]).astype(np.float32)
            else:
                values = raw.astype(np.float32)
            if name in weights:
                raise ConversionError(f"weight {name} appears twice")
            weights[name] = values.reshape(shape)
        if offset != len(data):
            raise ConversionError(f"weight group {group['paths']}: {len(data) - offset} bytes left over")
    return weights


def state_dict(specs: list[LayerSpec], weights: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Keras weights (``layer/param``) in the parameter names and layouts of :class:`KerasGraphNet`."""
    unused = dict(weights)

    def take(name: str) -> np.ndarray:
        try:
            return unused.pop(name)
        except KeyError as exc:
            raise ConversionError(f"the package has no weight {name}") from exc

    out: dict[str, np.ndarray] = {}
    for spec in specs:
        prefix = f"layers.{spec.name}"
        if isinstance(spec, ConvSpec):
            out[f"{prefix}.conv.weight"] = take(f"{spec.name}/kernel").transpose(3, 2, 0, 1)  # HWIO -> OIHW
        elif isinstance(spec, DepthwiseConvSpec):
            kernel = take(f"{spec.name}/depthwise_kernel")  # H, W, C, M; output channel c*M + m
            height, width, channels, multiplier = kernel.shape
            out[f"{prefix}.conv.weight"] = kernel.reshape(height, width, channels * multiplier).transpose(2, 0, 1)[
                :, None
            ]
        elif isinstance(spec, DenseSpec):
            out[f"{prefix}.linear.weight"] = take(f"{spec.name}/kernel").T
        elif isinstance(spec, BatchNormSpec):
            ones, zeros = np.ones(spec.channels, np.float32), np.zeros(spec.channels, np.float32)
            out[f"{prefix}.weight"] = unused.pop(f"{spec.name}/gamma", ones)  # absent when scale=False
            out[f"{prefix}.bias"] = unused.pop(f"{spec.name}/beta", zeros)  # absent when center=False
            out[f"{prefix}.running_mean"] = take(f"{spec.name}/moving_mean")
            out[f"{prefix}.running_var"] = take(f"{spec.name}/moving_variance")
        if isinstance(spec, ConvSpec | DepthwiseConvSpec | DenseSpec) and spec.use_bias:
            module = "linear" if isinstance(spec, DenseSpec) else "conv"
            out[f"{prefix}.{module}.bias"] = take(f"{spec.name}/bias")
    if unused:
        raise ConversionError(f"weights no layer reads: {sorted(unused)[:5]}")
    return {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in out.items()}


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
