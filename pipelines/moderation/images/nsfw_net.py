"""A PyTorch network interpreted from a Keras functional model's layer list (as tfjs stores it).

Used at setup only: the converter loads the package's weights into it and exports it to ONNX.

Decisions:

* The layer list is data, validated into typed layer specs, never generated code.
* Only the layer kinds (and options) of nsfwjs's MobileNetV2 are supported. Anything else fails the
  conversion with the layer's name instead of being approximated.
* Tensors flow NCHW, PyTorch's convolution layout. Keras's NHWC semantics are reproduced where they
  show: convolution padding is explicit per side (the converter computes TensorFlow's ``same``
  padding, which puts the odd pixel bottom/right, for the model's fixed input size), and
  ``Flatten`` reads channels last.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

Activation = Literal["linear", "relu", "softmax"]
Padding = tuple[tuple[int, int], tuple[int, int]]  # ((top, bottom), (left, right))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Spec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_]+$", description="The Keras layer name (a module name here).")
    inputs: list[str] = Field(default_factory=list, description="Names of the layers feeding this one.")


class InputSpec(_Spec):
    kind: Literal["InputLayer"] = "InputLayer"
    shape: tuple[int, int, int] = Field(description="Height, width, channels of one image.")


class ZeroPaddingSpec(_Spec):
    kind: Literal["ZeroPadding2D"] = "ZeroPadding2D"
    padding: Padding = Field(description="((top, bottom), (left, right)).")


class _ConvolutionSpec(_Spec):
    """What a plain and a depthwise convolution share."""

    channels: int = Field(gt=0, description="Input channels (Keras infers them; a module needs them).")
    kernel_size: tuple[int, int]
    strides: tuple[int, int]
    dilation_rate: tuple[int, int]
    padding: Padding = Field(description="Zeros added before the convolution: ((top, bottom), (left, right)).")
    use_bias: bool
    activation: Activation


class ConvSpec(_ConvolutionSpec):
    kind: Literal["Conv2D"] = "Conv2D"
    filters: int = Field(gt=0)


class DepthwiseConvSpec(_ConvolutionSpec):
    kind: Literal["DepthwiseConv2D"] = "DepthwiseConv2D"
    depth_multiplier: int = Field(gt=0)


class BatchNormSpec(_Spec):
    kind: Literal["BatchNormalization"] = "BatchNormalization"
    channels: int = Field(gt=0)
    epsilon: float = Field(gt=0.0, description="Keras's default is 1e-3 (PyTorch's is 1e-5).")


class ReLUSpec(_Spec):
    kind: Literal["ReLU"] = "ReLU"
    max_value: float | None = Field(None, description="6 for MobileNetV2's ReLU6; null for a plain ReLU.")


class AddSpec(_Spec):
    kind: Literal["Add"] = "Add"


class AveragePoolSpec(_Spec):
    kind: Literal["AveragePooling2D"] = "AveragePooling2D"
    pool_size: tuple[int, int]
    strides: tuple[int, int]


class FlattenSpec(_Spec):
    kind: Literal["Flatten"] = "Flatten"


class DenseSpec(_Spec):
    kind: Literal["Dense"] = "Dense"
    in_features: int = Field(gt=0)
    units: int = Field(gt=0)
    use_bias: bool
    activation: Activation


class DropoutSpec(_Spec):
    kind: Literal["Dropout"] = "Dropout"  # identity at inference


LayerSpec = Annotated[
    InputSpec
    | ZeroPaddingSpec
    | ConvSpec
    | DepthwiseConvSpec
    | BatchNormSpec
    | ReLUSpec
    | AddSpec
    | AveragePoolSpec
    | FlattenSpec
    | DenseSpec
    | DropoutSpec,
    Field(discriminator="kind"),
]


def _activate(x: torch.Tensor, activation: Activation) -> torch.Tensor:
    if activation == "relu":
        return F.relu(x)
    if activation == "softmax":
        return F.softmax(x, dim=-1)
    return x


class _Conv(nn.Module):
    """Conv2D and DepthwiseConv2D (``groups`` = channels), padded per side first."""

    def __init__(self, spec: ConvSpec | DepthwiseConvSpec, in_channels: int, out_channels: int, groups: int) -> None:
        super().__init__()
        self.spec = spec
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            spec.kernel_size,
            stride=spec.strides,
            dilation=spec.dilation_rate,
            groups=groups,
            bias=spec.use_bias,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (top, bottom), (left, right) = self.spec.padding
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return _activate(self.conv(x), self.spec.activation)


class _FrozenBatchNorm(nn.Module):
    """Inference-only batch norm: Keras's four arrays and epsilon, no running-stat updates (and no
    ``num_batches_tracked`` in the state dict, unlike ``nn.BatchNorm2d``)."""

    def __init__(self, channels: int, epsilon: float) -> None:
        super().__init__()
        self.epsilon = epsilon
        self.weight = nn.Parameter(torch.ones(channels), requires_grad=False)
        self.bias = nn.Parameter(torch.zeros(channels), requires_grad=False)
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, training=False, eps=self.epsilon
        )


class _ReLU(nn.Module):
    def __init__(self, max_value: float | None) -> None:
        super().__init__()
        self.max_value = max_value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x) if self.max_value is None else torch.clamp(x, 0.0, self.max_value)


class _Dense(nn.Module):
    def __init__(self, spec: DenseSpec) -> None:
        super().__init__()
        self.activation: Activation = spec.activation
        self.linear = nn.Linear(spec.in_features, spec.units, bias=spec.use_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _activate(self.linear(x), self.activation)


class _Stateless(nn.Module):
    """Parameter-free layers: padding, pooling, flatten, dropout (identity at inference)."""

    def __init__(self, spec: ZeroPaddingSpec | AveragePoolSpec | FlattenSpec | DropoutSpec) -> None:
        super().__init__()
        self.spec = spec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = self.spec
        if isinstance(spec, ZeroPaddingSpec):
            (top, bottom), (left, right) = spec.padding
            return F.pad(x, (left, right, top, bottom))
        if isinstance(spec, AveragePoolSpec):
            return F.avg_pool2d(x, spec.pool_size, spec.strides)  # Keras "valid": no padding
        if isinstance(spec, FlattenSpec):
            return x.permute(0, 2, 3, 1).flatten(1) if x.dim() == 4 else x.flatten(1)
        return x


def _module(spec: LayerSpec) -> nn.Module | None:
    if isinstance(spec, ConvSpec):
        return _Conv(spec, spec.channels, spec.filters, groups=1)
    if isinstance(spec, DepthwiseConvSpec):
        return _Conv(spec, spec.channels, spec.channels * spec.depth_multiplier, groups=spec.channels)
    if isinstance(spec, BatchNormSpec):
        return _FrozenBatchNorm(spec.channels, spec.epsilon)
    if isinstance(spec, ReLUSpec):
        return _ReLU(spec.max_value)
    if isinstance(spec, DenseSpec):
        return _Dense(spec)
    if isinstance(spec, ZeroPaddingSpec | AveragePoolSpec | FlattenSpec | DropoutSpec):
        return _Stateless(spec)
    return None  # InputLayer, Add: handled by the graph walk


class KerasGraphNet(nn.Module):
    """Runs the layers in their stored (topological) order on NHWC float input; returns the output layer's.

    Each intermediate tensor is dropped after its last reader, so a batch's peak memory is a few
    activations, not all 160 of them.
    """

    def __init__(self, specs: Sequence[LayerSpec], output: str) -> None:
        super().__init__()
        self.specs = list(specs)
        self.output = output
        inputs = [s for s in self.specs if isinstance(s, InputSpec)]
        if len(inputs) != 1:
            raise ValueError(f"expected one input layer, found {len(inputs)}")
        self.input_shape: tuple[int, int, int] = inputs[0].shape
        self.layers = nn.ModuleDict()
        self._last_reader: dict[str, int] = {}
        seen: set[str] = set()
        for index, spec in enumerate(self.specs):
            missing = [name for name in spec.inputs if name not in seen]
            if missing or spec.name in seen:
                raise ValueError(f"layer {spec.name}: duplicate, or reads {missing} before they are computed")
            if not isinstance(spec, InputSpec | AddSpec) and len(spec.inputs) != 1:
                raise ValueError(f"layer {spec.name} ({spec.kind}) takes one input, not {len(spec.inputs)}")
            seen.add(spec.name)
            self._last_reader.update(dict.fromkeys(spec.inputs, index))
            module = _module(spec)
            if module is not None:
                self.layers[spec.name] = module
        if output not in seen:
            raise ValueError(f"output layer {output!r} is not in the graph")

    def forward(self, images_nhwc: torch.Tensor) -> torch.Tensor:
        values: dict[str, torch.Tensor] = {}
        for index, spec in enumerate(self.specs):
            if isinstance(spec, InputSpec):
                out = images_nhwc.permute(0, 3, 1, 2)
            elif isinstance(spec, AddSpec):
                out = values[spec.inputs[0]]
                for name in spec.inputs[1:]:
                    out = out + values[name]
            else:
                out = self.layers[spec.name](values[spec.inputs[0]])
            for name in spec.inputs:
                if self._last_reader[name] == index and name != self.output:
                    del values[name]
            values[spec.name] = out
        return values[self.output]
