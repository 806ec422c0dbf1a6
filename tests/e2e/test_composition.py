"""The composition example runs beside the service and reuses its deployments through handles."""

from __future__ import annotations

import base64

import httpx
import pytest

from devtools.service import Service, ad_image, data_url, png_bytes

pytestmark = pytest.mark.e2e


def test_caption_then_moderate_example(service: Service, client: httpx.Client, admin: httpx.Client) -> None:
    image = "data:image/png;base64," + base64.b64encode(png_bytes((96, 64))).decode()
    response = client.post("/example/caption", json={"image": image, "max_tokens": 12})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["action"] in {"allow", "flag", "redact", "block"} and body["policy_version"]
    assert isinstance(body["caption"], str) and body["request_id"].startswith("caption-")
    # the image's and the caption's decisions went to the service's audit log like any input and output
    page = admin.get("/v1/moderation/decisions", params={"request_id": body["request_id"]}).json()
    assert sorted(r["direction"] for r in page["data"]) == ["input", "output"]


def test_example_errors_are_the_service_error_bodies(client: httpx.Client) -> None:
    response = client.post("/example/caption", json={"image": "data:image/png;base64,!!!"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] and error["param"]


def test_the_example_stands_behind_the_ingress_protections(service: Service, client: httpx.Client) -> None:
    assert httpx.post(f"{service.base_url}/example/caption", json={"image": "x"}).status_code == 401
    big = client.post("/example/caption", content=b'{"image": "' + b"A" * (21 * 1024 * 1024) + b'"}')
    assert big.status_code == 413 and big.json()["error"]["code"] == "body_too_large"
    assert big.json()["error"]["request_id"]


def test_the_example_screens_its_input_image(client: httpx.Client, admin: httpx.Client) -> None:
    image = data_url(ad_image())
    response = client.post("/example/caption", json={"image": image, "max_tokens": 8})
    assert response.status_code == 200, response.text
    body = response.json()
    page = admin.get("/v1/moderation/decisions", params={"request_id": body["request_id"]}).json()
    directions = {r["direction"]: r for r in page["data"]}
    assert set(directions) == {"input", "output"}
    assert "spam" in directions["input"]["categories"]  # the ad line and the WhatsApp QR code
