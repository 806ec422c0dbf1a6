"""Engine benchmark: the continuous engine's decode step against a bare forward, syncs, copies, joins.

``python -m bench.engine --cpu --json`` builds a medium random Qwen3-VL in memory (the real
architecture at 4 layers x 256 wide) and measures, printing one JSON object as its last line:

- ``step_over_bare``: one engine step (host bookkeeping, the decode forward, batched sampling,
  the host copy, stop checks) over one bare ``transformers`` forward with a ``StaticCache`` of the
  same batch and attended length, at batch 1, 16, 32 and context 512, 4096. Both run in this
  process, interleaved, timed in this thread's CPU time (one torch thread: all the work runs on
  it; time lost to other processes on a shared machine is not counted), medians compared.
- ``host_syncs_per_step``: counted by ``bench.probes.HostSyncCounter`` over decode steps.
- ``kv_bytes_copied_per_step``: counted by ``bench.probes.KVCopyMeter`` over decode steps (and
  over a join); the same meter on ``transformers``' ``DynamicCache`` is reported alongside, as
  proof that the meter sees copies.
- ``join_cost_in_steps``: the engine step in which a 32nd sequence joins 31 running ones, minus
  its prefill forward, in units of a plain decode step.

``python -m bench.engine --gpu [--quick]`` runs ``bench.gpu`` (the 8B architecture on a GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from transformers import DynamicCache, StaticCache

from bench.probes import HostSyncCounter, KVCopyMeter
from bench.random_model import MEDIUM, random_engine, random_prompt
from pipelines.core.types import GenerationRequest, Message, SamplingParams, TextPart
from pipelines.engine import PreparedRequest, SchedulerConfig, StreamEvent
from pipelines.engine.continuous import ContinuousEngine
from pipelines.engine.vlm import VLMEngine

TARGETS = {"step_over_bare": 1.15, "host_syncs_per_step": 1, "kv_bytes_copied_per_step": 0, "join_cost_in_steps": 2}
BATCHES = (32, 16, 1)  # measured in this order: the batch shrinks by cancelling sequences
JOIN_AT = 31
# This thread's CPU time: with one torch thread all of a step's work runs on it, and time spent
# descheduled by the other processes sharing the machine is not counted.
CLOCK = time.thread_time
PROBED_STEPS = 5  # decode steps run under the sync and copy probes
DRIFT = 60  # steps a context's run takes after its prompts are in: prompts are this much shorter


def _ignore(event: StreamEvent) -> None:
    """Benchmark requests' events are read from the engine's stats, not from a sink."""


class CpuBench:
    """One context length: fill the cache, then measure at each batch size while it shrinks."""

    def __init__(self, engine: VLMEngine, context: int, samples: int) -> None:
        self.engine, self.context, self.samples = engine, context, samples
        # Prompts start DRIFT tokens short of `context` and every step adds one token, so the
        # measured steps attend to about `context` tokens (each bare forward uses the same length).
        self.prompt_tokens = context - DRIFT
        scheduler = SchedulerConfig(
            max_context_tokens=context + 4 * DRIFT,  # room for every step this run takes
            prefill_chunk_tokens=max(BATCHES) * context,  # fill every slot in one step
        )
        self.cont = ContinuousEngine(engine, max(BATCHES), start=False, scheduler=scheduler, warmup=False)
        self.cont.step_clock = CLOCK
        self.model = engine.model
        self._ids: list[str] = []
        self._steps_at_fill = 0

    def prepared(self, index: int) -> PreparedRequest:
        request = GenerationRequest(
            f"c{self.context}-{index}",
            [Message("user", [TextPart("")])],
            SamplingParams(max_tokens=8 * DRIFT),  # never reached: the run cancels its sequences
        )
        return PreparedRequest(request, random_prompt(self.engine, self.prompt_tokens, seed=index))

    def fill(self) -> float:
        started = time.perf_counter()
        pending = [(self.prepared(i), _ignore) for i in range(max(BATCHES))]
        self._ids = [p.request_id for p, _ in pending]
        self.cont.step(pending)  # all prompts prefilled, then the first decode step
        assert self.cont.running == max(BATCHES) and not self.cont.stats().prefilling
        self._steps_at_fill = self.cont.steps - 1
        return time.perf_counter() - started

    @property
    def decode_steps_since_fill(self) -> int:
        return self.cont.steps - self._steps_at_fill

    def shrink_to(self, batch: int) -> None:
        for request_id in self._ids[batch:]:
            self.cont.cancel(request_id)
        self._ids = self._ids[:batch]
        self.cont.step([])
        assert self.cont.running == batch, self.cont.stats()

    def bare(self, batch: int, attend: int) -> Callable[[], None]:
        """A bare static-cache forward: what ``transformers``' own static-cache decoding runs per token."""
        cache = StaticCache(config=self.model.config, max_cache_len=attend)
        tokens = torch.ones((batch, 1), dtype=torch.long)
        with torch.inference_mode():
            self.model(input_ids=tokens, cache=cache, use_cache=True)  # allocates the cache
        positions = torch.full((4, batch, 1), attend - 1, dtype=torch.long)

        def forward() -> None:
            for layer in cache.layers:
                layer.cumulative_length.fill_(attend - 1)  # write the new token into the last column
            with torch.inference_mode():
                self.model(input_ids=tokens, position_ids=positions, cache=cache, use_cache=True)

        return forward

    def step_over_bare(self, batch: int) -> dict[str, float]:
        if self.cont.running != batch:
            self.shrink_to(batch)
        attend = self.attended() + 2 + self.samples // 2  # the middle of the timed window
        bare = self.bare(batch, attend)
        for _ in range(2):  # warm both paths
            self.cont.step([])
            bare()
        engine_s, bare_s = [], []
        for _ in range(self.samples):
            started = CLOCK()
            self.cont.step([])
            engine_s.append(CLOCK() - started)
            started = CLOCK()
            bare()
            bare_s.append(CLOCK() - started)
        step, reference = statistics.median(engine_s), statistics.median(bare_s)
        return {"engine_ms": step * 1e3, "bare_ms": reference * 1e3, "ratio": step / reference, "attend": attend}

    def attended(self) -> int:
        """Columns the next decode step attends to: the longest sequence's cached tokens plus its new one."""
        return self.prompt_tokens + self.decode_steps_since_fill + 1

    def syncs_and_copies(self, steps: int) -> dict[str, Any]:
        with HostSyncCounter() as syncs:
            for _ in range(steps):
                self.cont.step([])
        meter = KVCopyMeter(lambda: [*self.cont.cache.keys, *self.cont.cache.values])
        with meter:
            for _ in range(steps):
                self.cont.step([])
        return {"syncs": syncs.count / steps, "sync_calls": dict(syncs.by_call), "copied": meter.bytes / steps}

    def join_cost(self, repeats: int) -> dict[str, Any]:
        """A 32nd sequence joins 31: that step's time minus its prefill, over a plain step's."""
        self.shrink_to(JOIN_AT)
        plain = []
        for _ in range(self.samples):
            self.cont.step([])
            plain.append(self.cont.last_step.total_s)
        plain_s = statistics.median(plain)
        costs, copied, syncs = [], 0, 0
        for i in range(repeats):
            joiner = self.prepared(1000 + i)
            meter = KVCopyMeter(lambda: [*self.cont.cache.keys, *self.cont.cache.values])
            self.cont.step([(joiner, _ignore)])  # timed run, no probes
            step = self.cont.last_step
            costs.append((step.total_s - step.prefill_s) / plain_s)
            self.cont.cancel(joiner.request_id)
            self.cont.step([])
            again = self.prepared(2000 + i)
            with meter, HostSyncCounter() as counted:  # the same join again, probed
                self.cont.step([(again, _ignore)])
            copied, syncs = copied + meter.bytes, syncs + counted.count
            self.cont.cancel(again.request_id)
            self.cont.step([])
        return {
            "join_cost_in_steps": statistics.median(costs),
            "plain_step_ms": plain_s * 1e3,
            "kv_bytes_copied_per_join": copied / repeats,
            "host_syncs_per_join_step": syncs / repeats,
        }


def dynamic_cache_copies(engine: VLMEngine, batch: int, context: int) -> float:
    """The KV meter on ``transformers``' default cache: one decode step copies the whole cache."""
    model = engine.model
    ids = torch.randint(20, 700, (batch, context))
    cache = DynamicCache(config=model.config)
    with torch.inference_mode():
        model(input_ids=ids, cache=cache, use_cache=True, logits_to_keep=1)
        meter = KVCopyMeter(lambda: [t for layer in cache.layers for t in (layer.keys, layer.values)])
        with meter:
            model(input_ids=ids[:, :1], cache=cache, use_cache=True)
    return float(meter.bytes)


def run_cpu(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    scheduler = SchedulerConfig(max_context_tokens=max(args.contexts))
    engine = random_engine(spec=MEDIUM, architecture=None, device="cpu", dtype="float32", scheduler=scheduler)
    params = sum(p.numel() for p in engine.model.parameters())
    report: dict[str, Any] = {
        "mode": "cpu",
        "model": f"random Qwen3-VL, {MEDIUM.num_hidden_layers} layers x {MEDIUM.hidden_size}, {params / 1e6:.1f}M",
        "threads": args.threads,
        "load_average_before": list(os.getloadavg()),
        "step_over_bare": {},
        "step_ms": {},
        "bare_ms": {},
        "attended": {},
        "fill_s": {},
    }
    for context in args.contexts:
        bench = CpuBench(engine, context, args.samples)
        report["fill_s"][str(context)] = round(bench.fill(), 2)
        _log(f"context {context}: {max(BATCHES)} sequences prefilled in {report['fill_s'][str(context)]} s")
        for batch in BATCHES:
            measured = bench.step_over_bare(batch)
            key = f"b{batch}_ctx{context}"
            report["step_over_bare"][key] = round(measured["ratio"], 4)
            report["step_ms"][key] = round(measured["engine_ms"], 3)
            report["bare_ms"][key] = round(measured["bare_ms"], 3)
            report["attended"][key] = measured["attend"]
            _log(f"{key}: engine {measured['engine_ms']:.2f} ms, bare {measured['bare_ms']:.2f} ms")
            if context != min(args.contexts):
                continue
            if batch == max(BATCHES):  # a join at batch 31, then on down
                joins = bench.join_cost(args.joins)
                report |= {k: round(v, 4) if isinstance(v, float) else v for k, v in joins.items()}
                _log(f"join at {JOIN_AT}: {joins['join_cost_in_steps']:.2f} steps")
            if batch == 16:
                probed = bench.syncs_and_copies(PROBED_STEPS)
                report["host_syncs_per_step"] = probed["syncs"]
                report["host_sync_calls"] = probed["sync_calls"]
                report["kv_bytes_copied_per_step"] = probed["copied"]
        del bench
    report["kv_bytes_copied_per_step_dynamic_cache"] = dynamic_cache_copies(engine, 16, min(args.contexts))
    report["load_average_after"] = list(os.getloadavg())
    report["targets"] = TARGETS
    report["meets_targets"] = {
        "step_over_bare": max(report["step_over_bare"].values()) <= TARGETS["step_over_bare"],
        "host_syncs_per_step": report["host_syncs_per_step"] <= TARGETS["host_syncs_per_step"],
        "kv_bytes_copied_per_step": report["kv_bytes_copied_per_step"] == TARGETS["kv_bytes_copied_per_step"],
        "join_cost_in_steps": report["join_cost_in_steps"] <= TARGETS["join_cost_in_steps"],
    }
    return report


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> dict[str, Any] | str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--cpu", action="store_true", help="medium random model on the CPU (the CPU targets)")
    mode.add_argument("--gpu", action="store_true", help="the 8B architecture on a GPU (see bench.gpu)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON line (always last)")
    parser.add_argument("--contexts", type=int, nargs="+", default=[512, 4096])
    parser.add_argument("--samples", type=int, default=15, help="timed steps per measurement (medians)")
    parser.add_argument("--joins", type=int, default=5, help="joins timed for join_cost_in_steps")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the machine is shared)")
    parser.add_argument("--quick", action="store_true", help="fewer timed steps (CPU); one round per level (GPU)")
    args, rest = parser.parse_known_args(argv)
    if args.gpu:
        from bench.gpu import main as gpu_main

        return gpu_main(rest + (["--json"] if args.json else []) + (["--quick"] if args.quick else []))
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.quick:
        args.samples, args.joins = 7, 3
    report = run_cpu(args)
    if not args.json:
        for key, value in report.items():
            print(f"{key}: {value}")
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
