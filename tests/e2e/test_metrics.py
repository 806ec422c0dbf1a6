"""Ray's Prometheus endpoint on the running service carries our metrics with sensible values."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from devtools.service import Service, ad_image, data_url

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
    "ray_qvs_image_screen_seconds_bucket",
    "ray_qvs_image_screen_reads_total",
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
    image = {"type": "image_url", "image_url": {"url": data_url(ad_image())}}
    assert client.post("/v1/moderations", json={"input": [image]}).status_code == 200

    url = f"http://127.0.0.1:{service.metrics_port}/metrics"
    deadline = time.perf_counter() + 90  # Ray pushes metrics to its agent every few seconds
    problems = ["not scraped yet"]
    while problems and time.perf_counter() < deadline:
        problems = unmet(httpx.get(url, timeout=10).text)
        if problems:
            time.sleep(2)
    assert not problems, problems


def unmet(text: str) -> list[str]:
    """What the scraped metrics do not show yet (they arrive with a delay, replica by replica)."""
    problems = [f"{name} not exported" for name in EXPECTED if not samples(text, name)]
    if problems:
        return problems
    if sum(v for _, v in samples(text, "ray_qvs_output_tokens_total")) < 12:
        problems.append("fewer than 12 output tokens counted")
    rejections = samples(text, "ray_qvs_validation_rejections_total")
    if not any(lab["reason"] == "empty_messages" and lab["status"] == "400" and v >= 1 for lab, v in rejections):
        problems.append("empty_messages rejection not counted")
    spam = samples(text, "ray_qvs_moderation_category_total")
    if not any(lab["category"] == "spam" and lab["direction"] == "input" and v >= 1 for lab, v in spam):
        problems.append("spam input decision not counted")
    if {lab["direction"] for lab, _ in samples(text, "ray_qvs_moderation_decisions_total")} != {"input", "output"}:
        problems.append("decisions of both directions not counted")
    if samples(text, "ray_qvs_audit_healthy")[0][1] != 1.0:
        problems.append("audit not healthy")
    if sum(v for _, v in samples(text, "ray_qvs_time_to_first_token_seconds_count")) < 3:
        problems.append("fewer than 3 first tokens timed")
    screens = {lab["screen"] for lab, _ in samples(text, "ray_qvs_image_screen_seconds_count")}
    if not {"decode", "ocr", "codes", "nsfw"} <= screens:
        problems.append(f"image screens timed: {sorted(screens)}")
    if not any(lab["outcome"] == "ok" and v >= 1 for lab, v in samples(text, "ray_qvs_image_screen_reads_total")):
        problems.append("image read not counted")
    if not samples(text, "ray_serve_num_http_requests_total"):  # Serve's built-ins share the endpoint
        problems.append("Serve's built-in metrics missing")
    return problems
