"""The tfjs weight shards, dequantised as tfjs does, as the network's state dict."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pipelines.moderation.images.nsfw_convert import ConversionError
from pipelines.moderation.images.nsfw_net import (
    BatchNormSpec,
    ConvSpec,
    DenseSpec,
    DepthwiseConvSpec,
    LayerSpec,
)

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
