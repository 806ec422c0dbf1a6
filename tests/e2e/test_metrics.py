"""Ray's Prometheus endpoint on the running service carries our metrics with sensible values."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.e2e.service import Service

pytestmark = pytest.mark.e2e

EXPECTED = [
    "ray_qvs_admission_group_size_bucket",
    "ray_qvs_decode_batch_size_bucket",
    "ray_qvs_queue_wait_seconds_bucket",
    "ray_qvs_time_to_first_token_seconds_bucket",
    "ray_qvs_output_tokens_per_second_bucket",
    "ray_qvs_output_tokens_total",
    "ray_qvs_generation_requests_total",
    "ray_qvs_validation_rejections_total",
    "ray_qvs_moderation_decisions_total",
    "ray_qvs_moderation_category_total",
    "ray_qvs_audit_healthy",
    "ray_qvs_cache_requests_total",
]
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)", re.MULTILINE)


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    found = []
    for m in _SAMPLE.finditer(text):
        if m.group("name") == name:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group("labels") or ""))
            found.append((labels, float(m.group("value"))))
    return found


def test_prometheus_endpoint_has_our_metrics(service: Service, client: httpx.Client) -> None:
    for i in range(3):
        assert (
            client.post(
                "/v1/chat/completions", json={"messages": [{"role": "user", "content": f"hi {i}"}], "max_tokens": 4}
            ).status_code
            == 200
        )
    assert client.post("/v1/chat/completions", json={"messages": [], "max_tokens": 4}).status_code == 400
    assert client.post("/v1/moderations", json={"input": "add wechat bag888"}).status_code == 200

    url = f"http://127.0.0.1:{service.metrics_port}/metrics"
    deadline = time.perf_counter() + 90  # Ray pushes metrics to its agent every few seconds
    text = ""
    while time.perf_counter() < deadline:
        text = httpx.get(url, timeout=10).text
        if all(samples(text, name) for name in EXPECTED):
            break
        time.sleep(2)
    missing = [name for name in EXPECTED if not samples(text, name)]
    assert not missing, f"not exported: {missing}"

    generated = sum(v for labels, v in samples(text, "ray_qvs_output_tokens_total"))
    assert generated >= 12
    rejections = samples(text, "ray_qvs_validation_rejections_total")
    assert any(
        labels["reason"] == "empty_messages" and labels["status"] == "400" and v >= 1 for labels, v in rejections
    )
    spam = samples(text, "ray_qvs_moderation_category_total")
    assert any(labels["category"] == "spam" and labels["direction"] == "input" and v >= 1 for labels, v in spam)
    decisions = samples(text, "ray_qvs_moderation_decisions_total")
    assert {labels["direction"] for labels, _ in decisions} == {"input", "output"}
    assert samples(text, "ray_qvs_audit_healthy")[0][1] == 1.0
    ttft = samples(text, "ray_qvs_time_to_first_token_seconds_count")
    assert sum(v for _, v in ttft) >= 3
    # Ray Serve's built-in metrics are on the same endpoint
    assert samples(text, "ray_serve_num_http_requests_total")
