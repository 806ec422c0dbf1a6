"""The Keras topology of the nsfwjs model as typed layer specs (``nsfw_net``), with TensorFlow's
padding and only the options the model uses."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from pipelines.moderation.images.nsfw_convert import ConversionError
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
    LayerSpec,
    ReLUSpec,
    ZeroPaddingSpec,
)

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
