"""Fuzzing the HTTP layer of the running service: hypothesis-generated bodies, then schemathesis
against the service's OpenAPI document. Zero 500s, the service keeps answering."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.service import Service
from tests.e2e.conftest import API_KEY

pytestmark = pytest.mark.e2e

FUZZ_EXAMPLES = 150
SCHEMATHESIS_EXAMPLES = 30
SCHEMATHESIS_LIMIT_S = 300

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
part = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "image_url", "audio", ""])},
    optional={
        "text": json_values,
        "image_url": st.one_of(json_values, st.fixed_dictionaries({"url": st.text(max_size=80) | json_values})),
    },
)
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "system", "assistant", "tool", ""]) | json_values},
    optional={"content": st.text(max_size=100) | st.lists(part, max_size=3) | json_values},
)
chat_bodies = st.fixed_dictionaries(
    {"messages": st.lists(message, max_size=4) | json_values},
    optional={
        "max_tokens": st.integers(-5, 5000) | json_values,
        "temperature": st.floats(-1, 5, allow_infinity=False) | json_values,
        "top_p": st.floats(-1, 2, allow_infinity=False) | json_values,
        "seed": st.integers() | json_values,
        "stop": st.lists(st.text(max_size=80), max_size=6) | json_values,
        "n": st.integers(-1, 3),
        "stream": st.booleans(),
        "model": st.text(max_size=20),
    },
)
moderation_bodies = st.fixed_dictionaries({"input": st.text(max_size=200) | st.lists(part, max_size=3) | json_values})


def check(response: httpx.Response) -> None:
    assert response.status_code != 500, response.text[:300]
    assert response.status_code < 500 or response.status_code in (503, 504)
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        if response.status_code >= 400:
            assert set(body["error"]) >= {"message", "type", "param", "code", "request_id"}
            assert "Traceback" not in response.text


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(body=chat_bodies)
def test_fuzzed_chat_bodies(service: Service, body: dict) -> None:
    if isinstance(body.get("max_tokens"), int) and body["max_tokens"] > 8:
        body = {**body, "max_tokens": 8}  # valid bodies still generate: keep each one short
    with httpx.Client(base_url=service.base_url, headers={"authorization": f"Bearer {API_KEY}"}, timeout=60) as c:
        check(c.post("/v1/chat/completions", json=body))


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(body=moderation_bodies)
def test_fuzzed_moderation_bodies(service: Service, body: dict) -> None:
    with httpx.Client(base_url=service.base_url, headers={"authorization": f"Bearer {API_KEY}"}, timeout=60) as c:
        check(c.post("/v1/moderations", json=body))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    raw=st.binary(max_size=2000),
    content_type=st.sampled_from(["application/json", "text/plain", "", "multipart/form-data"]),
)
def test_fuzzed_raw_bytes(service: Service, raw: bytes, content_type: str) -> None:
    with httpx.Client(base_url=service.base_url, headers={"authorization": f"Bearer {API_KEY}"}, timeout=60) as c:
        for path in ("/v1/chat/completions", "/v1/moderations"):
            check(c.post(path, content=raw, headers={"content-type": content_type}))


def test_schemathesis_finds_no_server_error(service: Service, client: httpx.Client, tmp_path: Path) -> None:
    st_bin = Path(sys.executable).parent / "st"
    done = subprocess.run(
        [
            str(st_bin),
            "run",
            f"{service.base_url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            str(SCHEMATHESIS_EXAMPLES),
            "--header",
            f"Authorization: Bearer {API_KEY}",
            "--request-timeout",
            "60",
            "--workers",
            "1",
            "--report-junit-path",
            str(tmp_path / "junit.xml"),
        ],
        capture_output=True,
        text=True,
        timeout=SCHEMATHESIS_LIMIT_S,
        cwd=tmp_path,  # its cache directory goes there, not into the checkout
    )
    summary = "\n".join(done.stdout.splitlines()[-25:])
    print("\n[e2e] schemathesis:\n" + summary)
    assert done.returncode == 0, summary
    assert client.get("/v1/models").status_code == 200  # still serving


def test_openapi_document_lists_our_routes(service: Service) -> None:
    assert httpx.get(f"{service.base_url}/openapi.json").status_code == 401  # keys are configured: no map for free
    document = httpx.get(f"{service.base_url}/openapi.json", headers={"authorization": f"Bearer {API_KEY}"})
    paths = set(json.loads(document.text)["paths"])
    assert {"/v1/chat/completions", "/v1/moderations", "/v1/moderation/decisions", "/v1/models", "/readyz"} <= paths
