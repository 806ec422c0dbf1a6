"""The Grafana dashboard only queries metrics the service (or Ray Serve) actually defines."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
SERVE_BUILT_INS = {"ray_serve_num_http_requests_total", "ray_serve_num_http_error_requests_total"}


def defined_metrics() -> set[str]:
    source = (ROOT / "serve_app" / "metrics.py").read_text()
    return {f"ray_{name}" for name in re.findall(r'(?:Counter|Gauge|Histogram)\(\s*"(qvs_[a-z_]+)"', source)}


def test_every_dashboard_query_uses_a_defined_metric() -> None:
    dashboard = json.loads((ROOT / "ops" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {re.sub(r"_bucket$", "", m) for e in exprs for m in re.findall(r"\bray_[a-z_]+", e)}
    defined = defined_metrics() | SERVE_BUILT_INS
    assert used <= defined, used - defined
    assert defined_metrics() <= used  # and every metric of ours has a panel
