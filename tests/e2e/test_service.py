"""Black-box tests of the running service over HTTP, as its users call it."""

from __future__ import annotations

import asyncio
import base64
import io
import json

import httpx
import openai
import psutil
import pytest
from PIL import Image

from devtools.service import Service, png_bytes
from tests.e2e.conftest import BLOCK_MAX_TOKENS, BLOCK_PROMPT

pytestmark = pytest.mark.e2e

MODEL = "qwen3-vl-tiny"


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def chat_body(text: str = "describe this", image: str | None = None, **params) -> dict:
    content: list[dict] = [{"type": "text", "text": text}]
    if image is not None:
        content.insert(0, {"type": "image_url", "image_url": {"url": image}})
    return {"model": MODEL, "messages": [{"role": "user", "content": content}], "max_tokens": 8, **params}


def test_health_readiness_and_models(service: Service, client: httpx.Client) -> None:
    # probes need no API key; everything else does
    assert httpx.get(f"{service.base_url}/healthz").json()["status"] == "ok"
    ready = httpx.get(f"{service.base_url}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"model": True, "policy": True, "audit": True}
    models = client.get("/v1/models").json()
    assert [m["id"] for m in models["data"]] == [MODEL]
    card = models["data"][0]
    assert card["version"] == f"{MODEL}@default:none" and card["quantization"] == "none"
    assert card["policy_version"] and card["app_version"] == "0.1.0"
    assert card["source"].endswith("tiny-qwen3-vl")


def test_responses_say_which_model_policy_and_app_answered(client: httpx.Client) -> None:
    response = client.post("/v1/chat/completions", json=chat_body(max_tokens=2))
    version = response.headers["x-qvs-version"]
    policy_version = response.json()["policy_version"]
    assert version == f"model={MODEL}@default:none; policy={policy_version}; app=0.1.0"
    moderated = client.post("/v1/moderations", json={"input": "hello"})
    assert f"policy={policy_version}" in moderated.headers["x-qvs-version"]


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-key", "Basic e2e-test-key-7f3a", "Bearer", "bearer e2e-test-key-7f3"]
)
def test_requests_without_a_valid_key_get_401(service: Service, authorization: str | None) -> None:
    headers = {"authorization": authorization} if authorization else {}
    response = httpx.post(f"{service.base_url}/v1/chat/completions", json=chat_body(), headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "authentication_error" and error["message"] == "Invalid or missing API key."
    assert "wrong-key" not in response.text and "e2e-test-key" not in response.text


def test_second_configured_key_works_and_keys_never_reach_the_logs(service: Service) -> None:
    response = httpx.get(f"{service.base_url}/v1/models", headers={"authorization": "Bearer other-key"})
    assert response.status_code == 200
    assert "e2e-test-key-7f3a" not in service.log.read_text(errors="replace")


def test_original_design_body(client: httpx.Client) -> None:
    # greedy: a sampled answer of the random-weight model sometimes contains the session's blocked word
    body = {
        "image": base64.b64encode(png_bytes()).decode(),
        "prompt": "What is in this picture?",
        "max_tokens": 12,
        "temperature": 0,
    }
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    out = response.json()
    assert isinstance(out["text"], str) and out["text"]
    assert out["finish_reason"] in {"stop", "length"}
    assert out["usage"]["completion_tokens"] <= 12
    assert set(out["moderation"]) == {"input", "output"}
    assert out["moderation"]["output"]["policy_version"]
    assert response.headers["x-request-id"] == out["request_id"]


def test_openai_client_with_png_data_url(openai_client: openai.OpenAI) -> None:
    completion = openai_client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "You are a shopping assistant."},
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": data_url(png_bytes((120, 80)))}},
                    {"type": "text", "text": "Is this bag real leather?"},
                ],
            },
        ],
        max_completion_tokens=10,
        temperature=0,
        seed=3,
        stop=["\n\n"],
    )
    assert completion.object == "chat.completion"
    assert completion.model == MODEL
    choice = completion.choices[0]
    assert choice.message.role == "assistant" and isinstance(choice.message.content, str)
    assert choice.finish_reason in {"stop", "length"}
    assert 0 < completion.usage.completion_tokens <= 10
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    extra = completion.model_extra
    assert extra["policy_version"]
    assert "custom" in choice.model_extra["content_filter_results"]
    assert "custom" in extra["prompt_filter_results"][0]["content_filter_results"]


def test_sixteen_concurrent_requests_are_batched(service: Service, client: httpx.Client) -> None:
    """The VLM reports its batch size per response (x-batch-size); some batch must exceed 1."""

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=120, headers=client.headers) as concurrent:
            bodies = [chat_body(f"request number {i} " + "word " * (i % 5), max_tokens=8 + i % 4) for i in range(16)]
            return await asyncio.gather(*(concurrent.post("/v1/chat/completions", json=b) for b in bodies))

    responses = asyncio.run(run())
    assert [r.status_code for r in responses] == [200] * 16
    sizes = [int(r.headers["x-batch-size"]) for r in responses]
    print(f"\n[e2e] batch sizes seen by 16 concurrent requests: {sorted(sizes)}")
    assert max(sizes) > 1
    assert len({r.json()["id"] for r in responses}) == 16


def test_blocked_answer_is_withheld(openai_client: openai.OpenAI, blocked_word: str) -> None:
    completion = openai_client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": BLOCK_PROMPT}], max_tokens=BLOCK_MAX_TOKENS, temperature=0
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "content_filter"
    assert blocked_word not in choice.message.content
    custom = choice.model_extra["content_filter_results"]["custom"]
    assert custom["filtered"] is True and custom["action"] == "block"


def _truncated_png() -> bytes:
    return png_bytes((64, 64))[:60]


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (1, 2, 3)).save(buf, format="JPEG")
    return buf.getvalue()


BAD_INPUTS = [
    ("invalid json", b"{not json", 400, "invalid_json"),
    ("messages not a list", json.dumps({"messages": "hi"}).encode(), 400, None),
    ("bad base64", json.dumps(chat_body(image="data:image/png;base64,iVBOR%%%")).encode(), 400, "invalid_base64"),
    ("declared png, bytes jpeg", json.dumps(chat_body(image=data_url(_jpeg(), "image/png"))).encode(), 415, None),
    ("truncated png", json.dumps(chat_body(image=data_url(_truncated_png()))).encode(), 422, None),
    ("remote url", json.dumps(chat_body(image="http://169.254.169.254/latest")).encode(), 400, None),
    ("max_tokens over cap", json.dumps(chat_body(max_tokens=10**6)).encode(), 400, None),
    ("n > 1", json.dumps(chat_body(n=3)).encode(), 400, None),
    ("unknown model", json.dumps({**chat_body(), "model": "gpt-9"}).encode(), 404, "model_not_found"),
]


@pytest.mark.parametrize(("name", "body", "status", "code"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_gets_its_own_status(
    client: httpx.Client, name: str, body: bytes, status: int, code: str | None
) -> None:
    response = client.post(
        "/v1/chat/completions",
        content=body,
        headers={"content-type": "application/json", "x-request-id": "bad-input-1"},
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    # our own id is the one reported; the client's is only echoed back as a correlation id
    assert error["request_id"] == response.headers["x-request-id"] != "bad-input-1"
    assert response.headers["x-client-request-id"] == "bad-input-1"
    if code:
        assert error["code"] == code
    assert "Traceback" not in response.text


def test_service_still_answers_after_bad_inputs(client: httpx.Client) -> None:
    # greedy, as a sampled answer may contain the session's blocked word
    response = client.post("/v1/chat/completions", json=chat_body(image=data_url(png_bytes()), temperature=0))
    assert response.status_code == 200
    assert response.json()["choices"][0]["finish_reason"] in {"stop", "length"}


RAY_DASHBOARD_PORT = 8265


def test_service_and_ray_dashboard_listen_on_loopback_only(service: Service) -> None:
    """Nothing we start answers on another interface; Ray's dashboard (which can deploy code)
    also wants the cluster token."""
    listening: dict[int, set[str]] = {}
    for conn in psutil.net_connections("inet"):
        if conn.status == psutil.CONN_LISTEN:
            listening.setdefault(conn.laddr.port, set()).add(conn.laddr.ip)
    assert listening[service.port] <= {"127.0.0.1", "::1"}
    assert listening[RAY_DASHBOARD_PORT] <= {"127.0.0.1", "::1"}
    response = httpx.get(f"http://127.0.0.1:{RAY_DASHBOARD_PORT}/api/serve/applications/", timeout=10)
    assert response.status_code == 401
