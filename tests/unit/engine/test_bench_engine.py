"""`python -m bench.engine --cpu` end to end at small contexts: every number is there, and the
deterministic ones (syncs, copies) meet their targets."""

from __future__ import annotations

import json

from bench.engine import BATCHES, main


def test_cpu_engine_benchmark_reports_every_number(capsys) -> None:
    report = main(["--cpu", "--json", "--contexts", "96", "160", "--samples", "3", "--joins", "1"])
    assert isinstance(report, dict)
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == report  # the last line is the JSON
    keys = {f"b{b}_ctx{c}" for b in BATCHES for c in (96, 160)}
    assert set(report["step_over_bare"]) == keys and all(v > 0 for v in report["step_over_bare"].values())
    assert report["host_syncs_per_step"] == 1 and report["host_sync_calls"] == {"tolist": 5}
    assert report["kv_bytes_copied_per_step"] == 0 and report["kv_bytes_copied_per_join"] == 0
    assert report["kv_bytes_copied_per_step_dynamic_cache"] > 0  # the meter does see copies
    assert report["join_cost_in_steps"] > 0 and report["host_syncs_per_join_step"] == 1
