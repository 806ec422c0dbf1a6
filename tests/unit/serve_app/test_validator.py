"""The Validator deployment in process (no Ray): its decode slots bound concurrent decodes per replica."""

from __future__ import annotations

import base64
import concurrent.futures
import threading
import time
from io import BytesIO
from typing import Any

import pytest
from PIL import Image

from pipelines.core.errors import PayloadTooLargeError
from pipelines.inputs import images
from serve_app.deployments.validator import ValidatorDeployment, replica_cpus

THREADS = 8  # more than any slot count these tests configure: Serve's threads, up to max_ongoing_requests


def png_message() -> list[dict[str, Any]]:
    buffer = BytesIO()
    Image.new("RGB", (32, 16), "red").save(buffer, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]


def validator(**user_config: Any) -> Any:
    deployment = ValidatorDeployment.func_or_class()
    deployment.reconfigure(user_config)
    return deployment


def count_concurrent_decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A slow decode that records the most decodes ever running at once (``[most]``)."""
    running, most = [0], [0]
    lock = threading.Lock()
    real_to_rgb = images._to_rgb

    def slow_to_rgb(img: Image.Image) -> Image.Image:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return real_to_rgb(img)

    monkeypatch.setattr(images, "_to_rgb", slow_to_rgb)
    return most


def test_concurrent_decodes_are_bounded_per_replica(monkeypatch: pytest.MonkeyPatch) -> None:
    most = count_concurrent_decodes(monkeypatch)
    deployment = validator(max_concurrent_decodes=2)
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        results = [pool.submit(deployment.validate_chat, png_message(), {}, f"r{i}") for i in range(THREADS)]
        assert all(r.result().images for r in results)
    assert most == [2]


def test_moderation_decodes_share_the_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    most = count_concurrent_decodes(monkeypatch)
    deployment = validator(max_concurrent_decodes=1)
    parts = png_message()[0]["content"] * 3
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        results = [pool.submit(deployment.validate_moderation, parts, f"r{i}") for i in range(4)]
        assert all(len(r.result()[0].images) == 3 for r in results)
    assert most == [1]


def test_slots_default_to_the_replica_cpus_and_follow_reconfigure() -> None:
    deployment = validator()
    assert deployment.decode_slots.limit == replica_cpus() >= 1
    slots = deployment.decode_slots
    deployment.reconfigure({"max_request_pixels": 10_000_000})
    assert deployment.decode_slots is slots  # unchanged limit: the same slots
    deployment.reconfigure({"max_concurrent_decodes": 3})
    assert deployment.decode_slots.limit == 3


def test_the_request_pixel_budget_is_user_config() -> None:
    deployment = validator(max_image_pixels=512, max_request_pixels=1000)
    message = png_message()
    message[0]["content"] *= 2  # 2 x 512 pixels
    with pytest.raises(PayloadTooLargeError) as info:
        deployment.validate_chat(message, {}, "r1")
    assert (info.value.code, info.value.param) == (
        "request_pixel_budget_exceeded",
        "messages[0].content[1].image_url.url",
    )
