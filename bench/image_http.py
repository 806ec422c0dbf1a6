"""Image moderation through HTTP on the CPU config: what a caller waits for one 1024x768 image with text.

Run: ``.venv/bin/python -m bench.image_http [--runs 12]``. Starts the service as ``make serve`` does
(configs/cpu.yaml on a free port, all image screens on) and prints, as its last line, one JSON object:
``/v1/moderations`` latency p50 / p99 for one 1024x768 product shot with an ad line and a WhatsApp QR
code (and whether spam fired), the same for three such images in one request (screened in parallel,
one ImageScreen call each), and a chat request with that image against one without.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import httpx

from devtools.service import ROOT, TINY_MODEL_DIR, Service, ad_image, data_url, free_port, write_config
from devtools.tiny_model import build_tiny_checkpoint, is_tiny_checkpoint


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(client: httpx.Client, path: str, body: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    response = client.post(path, json=body)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, response.json()


def summary(latencies: list[float]) -> dict[str, float]:
    return {"p50_s": round(percentile(latencies, 0.5), 3), "p99_s": round(percentile(latencies, 0.99), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=12, help="requests per measurement")
    args = parser.parse_args()
    if not is_tiny_checkpoint(TINY_MODEL_DIR):
        build_tiny_checkpoint(TINY_MODEL_DIR)
    url = data_url(ad_image())
    image_part = {"type": "image_url", "image_url": {"url": url}}
    one = {"input": [image_part]}
    three = {"input": [image_part] * 3}
    chat_text = {"messages": [{"role": "user", "content": "Describe it."}], "max_tokens": 8, "temperature": 0.7}
    chat_image = {
        "messages": [{"role": "user", "content": [image_part, {"type": "text", "text": "Describe it."}]}],
        "max_tokens": 8,
        "temperature": 0.7,
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        port = free_port()
        service = Service(
            write_config(ROOT / "configs" / "cpu.yaml", work / "serve.yaml", port, {}), port, work / "log"
        )
        service.start()
        try:
            with httpx.Client(base_url=service.base_url, timeout=120) as client:
                for _ in range(2):  # warm the screens' models and the graph
                    timed(client, "/v1/moderations", one)
                single = [timed(client, "/v1/moderations", one) for _ in range(args.runs)]
                triple = [timed(client, "/v1/moderations", three)[0] for _ in range(max(3, args.runs // 2))]
                text_chat = [timed(client, "/v1/chat/completions", chat_text)[0] for _ in range(args.runs)]
                image_chat = [timed(client, "/v1/chat/completions", chat_image)[0] for _ in range(args.runs)]
        finally:
            service.stop()
    result = single[-1][1]["results"][0]
    report = {
        "moderation_one_image_1024x768": summary([s for s, _ in single]),
        "spam_flagged": bool(result["category_results"]["spam"]["detected"]),
        "moderation_three_images": summary(triple),
        "chat_text_only": summary(text_chat),
        "chat_with_the_image": summary(image_chat),
        "runs": args.runs,
    }
    for name, value in report.items():
        print(f"{name}: {value}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
