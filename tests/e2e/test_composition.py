"""The composition example runs beside the service and reuses its deployments through handles."""

from __future__ import annotations

import base64

import httpx
import pytest

from devtools.service import Service, png_bytes

pytestmark = pytest.mark.e2e


def test_caption_then_moderate_example(service: Service, client: httpx.Client) -> None:
    image = "data:image/png;base64," + base64.b64encode(png_bytes((96, 64))).decode()
    response = client.post("/example/caption", json={"image": image, "max_tokens": 12})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["action"] in {"allow", "flag", "redact", "block"} and body["policy_version"]
    assert isinstance(body["caption"], str) and body["request_id"].startswith("caption-")
    # the caption's decision went to the service's audit log like any output
    page = client.get("/v1/moderation/decisions", params={"request_id": body["request_id"]}).json()
    assert [r["direction"] for r in page["data"]] == ["output"]


def test_example_errors_are_the_service_error_bodies(client: httpx.Client) -> None:
    response = client.post("/example/caption", json={"image": "data:image/png;base64,!!!"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] and error["param"]
