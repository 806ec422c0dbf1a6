"""The generation engine: one continuous engine behind one small protocol, for the service and the job.

Public API (import from here):

- ``EngineConfig`` / ``SchedulerConfig``: what to load and how big the engine is.
- ``create_engine(config, max_running=...)``: load the model and start a ``ContinuousEngine``.
- ``Engine`` (the protocol: ``prepare``, ``submit``, ``cancel``, ``set_max_running``, ``stats``,
  ``healthy``, ``ready``, ``close``), ``StreamEvent``, ``Sink``, ``PreparedRequest``, ``EngineStats``.
- ``generate_all(engine, requests)``: blocking, in order, results as values (batch jobs).
- ``VLMEngine``: a loaded model; its ``generate_batch`` is the ``transformers`` ``generate``
  reference the continuous engine is tested against.

Modules, one job each: ``config``, ``loader``, ``encoding``, ``sampling``, ``results``,
``generate`` (the reference path), ``kv_cache`` (slot KV cache), ``attention`` (decode attention
over it), ``prefill``, ``runner`` (the decode step, CUDA graphs), ``detokenize``, ``sequence``,
``intake``, ``continuous`` (the scheduler loop), ``protocol``. Names resolve lazily so that
importing ``pipelines.engine.config`` does not load the model code.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EngineConfig": "pipelines.engine.config",
    "SchedulerConfig": "pipelines.engine.config",
    "Engine": "pipelines.engine.protocol",
    "EngineStats": "pipelines.engine.protocol",
    "PreparedRequest": "pipelines.engine.protocol",
    "Sink": "pipelines.engine.protocol",
    "StreamEvent": "pipelines.engine.protocol",
    "generate_all": "pipelines.engine.protocol",
    "ContinuousEngine": "pipelines.engine.continuous",
    "create_engine": "pipelines.engine.continuous",
    "VLMEngine": "pipelines.engine.vlm",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
