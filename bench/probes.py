"""Counters for what a decode step does besides computing: host syncs and KV-cache copies.

Both watch every torch call made inside a ``with`` block through a ``TorchFunctionMode`` (torch's
public hook for intercepting torch functions and tensor methods), so they measure what really ran,
``transformers``' code included, rather than what our code meant to do.

- :class:`HostSyncCounter` counts the calls that make the host wait for device values: reading
  a tensor into Python (``item``, ``tolist``, ``bool(t)``, ...), data-dependent shapes
  (``nonzero``, ``masked_select``, ...), copies to the CPU, and ``torch.cuda`` synchronize calls.
  On a CPU-only run every tensor is "on the host", so every read counts: an upper bound of what
  a GPU would sync on.
- :class:`KVCopyMeter` sums the bytes of every new tensor made from KV-cache memory: anything
  that reads a cache buffer and writes somewhere else (``cat``, ``index_select``, ``clone``,
  ``contiguous``, ``repeat``, ``pad`` ...). Views of the cache, writes into it, and attention
  kernels (which read it and produce attention outputs, not copies) are not copies.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

_READS = {
    torch.Tensor.item,
    torch.Tensor.tolist,
    torch.Tensor.numpy,
    torch.Tensor.__bool__,
    torch.Tensor.__int__,
    torch.Tensor.__float__,
    torch.Tensor.__index__,
}
_DATA_DEPENDENT = {
    torch.nonzero,
    torch.Tensor.nonzero,
    torch.masked_select,
    torch.Tensor.masked_select,
    torch.unique,
    torch.Tensor.unique,
    torch.argwhere,
}
_TRANSFERS = {torch.Tensor.cpu, torch.Tensor.to, torch.Tensor.copy_}
_ATTENTION = ("scaled_dot_product_attention", "flash_attn", "_flash_attention")


def _tensors(value: Any) -> list[torch.Tensor]:
    """Every tensor in a call's arguments or result (nested in tuples, lists, dicts or model outputs)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _tensors(item)]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    return []


class HostSyncCounter(TorchFunctionMode):
    """Counts host syncs (see the module docstring); ``count`` and ``by_call`` after the block.

    ``device`` is where the model computes: reading a tensor into Python counts when the tensor is
    there (on a CPU run, every read; on a GPU run, reads of CUDA tensors, not of host buffers)."""

    def __init__(self, device: torch.device | str = "cpu") -> None:
        super().__init__()
        self.device = torch.device(device).type
        self.by_call: Counter[str] = Counter()
        self._patched: list[tuple[Any, str, Any]] = []

    @property
    def count(self) -> int:
        return sum(self.by_call.values())

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        on_device = bool(args) and isinstance(args[0], torch.Tensor) and args[0].device.type == self.device
        read = (func in _READS or func in _DATA_DEPENDENT) and on_device
        if read or (func in _TRANSFERS and self._to_host(func, args, kwargs)):
            self.by_call[name] += 1
        return func(*args, **kwargs)

    @staticmethod
    def _to_host(func: Any, args: tuple, kwargs: dict) -> bool:
        """A device-to-host transfer: only possible from a CUDA tensor (non_blocking copies sync later)."""
        if func is torch.Tensor.copy_:
            dst, src = args[0], args[1]
            return src.device.type == "cuda" and dst.device.type == "cpu" and not kwargs.get("non_blocking")
        source = args[0]
        if source.device.type != "cuda":
            return False
        if func is torch.Tensor.cpu:
            return True
        target = kwargs.get("device", args[1] if len(args) > 1 else None)
        return target is not None and torch.device(target).type == "cpu" and not kwargs.get("non_blocking")

    def __enter__(self) -> HostSyncCounter:
        if torch.cuda.is_available():
            for owner, attr in ((torch.cuda, "synchronize"), (torch.cuda.Event, "synchronize")):
                original = getattr(owner, attr)
                self._patched.append((owner, attr, original))
                setattr(owner, attr, self._counting(f"cuda.{attr}", original))
        super().__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        for owner, attr, original in self._patched:
            setattr(owner, attr, original)
        self._patched.clear()

    def _counting(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.by_call[name] += 1
            return original(*args, **kwargs)

        return counted


class KVCopyMeter(TorchFunctionMode):
    """Bytes of new tensors made from KV-cache memory (see the module docstring)."""

    def __init__(self, kv_tensors: Callable[[], Iterable[torch.Tensor]]) -> None:
        super().__init__()
        self._kv_tensors = kv_tensors  # re-read per call: a DynamicCache replaces its tensors each step
        self.bytes = 0
        self.by_call: Counter[str] = Counter()

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        name = getattr(func, "__name__", str(func))
        if any(part in name for part in _ATTENTION):
            return result
        kv = {t.untyped_storage().data_ptr() for t in self._kv_tensors()}
        if not any(t.untyped_storage().data_ptr() in kv for t in _tensors((args, kwargs))):
            return result
        for out in _tensors(result):
            if out.untyped_storage().data_ptr() not in kv:
                copied = out.numel() * out.element_size()
                self.bytes += copied
                self.by_call[name] += copied
        return result
