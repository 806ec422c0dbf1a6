"""The moderation API, the audit log and the policy's life cycle, against the running service."""

from __future__ import annotations

import asyncio
import base64
import itertools
import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
import openai
import pytest
import yaml

from devtools.service import CONTACT_LINK, Service, ad_image, data_url, png_bytes, write_policy
from tests.e2e.conftest import API_KEY

pytestmark = pytest.mark.e2e

OPENAI_CATEGORIES = {
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
}
RECOVERY_TIMEOUT_S = 120.0


def png_data_url() -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes((96, 64))).decode()


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --- /v1/moderations -----------------------------------------------------------------------------------


def test_openai_client_moderates_text(openai_client: openai.OpenAI) -> None:
    response = openai_client.moderations.create(input="Cheap bags! add wechat bag888 now, and kill them all")
    (result,) = response.results
    assert result.flagged
    assert result.categories.violence and not result.categories.sexual
    assert result.category_scores.violence == 1.0
    assert result.category_applied_input_types.violence == ["text"]
    extra = result.model_extra
    assert extra["policy_version"] and extra["action"] in {"flag", "block"}
    assert extra["category_results"]["spam"]["detected"] is True  # our own category, beyond OpenAI's
    assert response.id.startswith("modr-") and response.model


def test_openai_client_moderates_a_list_of_strings(openai_client: openai.OpenAI) -> None:
    response = openai_client.moderations.create(
        input=["Is this bag real leather?", "You are a stupid fucking idiot.", "这个包是真皮的吗"]
    )
    flags = [r.flagged for r in response.results]
    assert flags == [False, True, False]
    assert response.results[1].categories.harassment and response.results[1].category_scores.harassment >= 0.5


def test_openai_client_moderates_an_image_data_url(openai_client: openai.OpenAI) -> None:
    response = openai_client.moderations.create(
        model="omni-moderation-latest",
        input=[
            {"type": "text", "text": "Does this upload break our rules?"},
            {"type": "image_url", "image_url": {"url": png_data_url()}},
        ],
    )
    (result,) = response.results  # parts of one input give one result
    assert not result.flagged
    assert result.category_applied_input_types.sexual == ["text", "image"]
    assert result.category_applied_input_types.harassment == ["text"]
    assert set(result.categories.model_dump(by_alias=True)) == OPENAI_CATEGORIES
    assert response.model == "omni-moderation-latest"


def test_text_and_codes_in_an_image_are_screened_and_located(
    openai_client: openai.OpenAI, client: httpx.Client
) -> None:
    """An ad line and a WhatsApp QR code on a product photo: OCR and the QR decoder in the ImageScreen
    deployment read the image as sent (the tiny model only sees a 128x96 copy), the text layers judge it."""
    image = {"type": "image_url", "image_url": {"url": data_url(ad_image())}}
    response = openai_client.moderations.create(model="omni-moderation-latest", input=[image])
    (result,) = response.results
    extra = result.model_extra or {}
    assert result.flagged and extra["category_results"]["spam"]["detected"]
    findings = extra["image_findings"]
    assert {f["source"] for f in findings if f["category"] == "spam"} == {"ocr", "code"}
    assert all(f["image_index"] == 0 and f["boxes"] for f in findings)
    assert any(f["source"] == "code" and CONTACT_LINK in f["text"] for f in findings)
    # the same image in a chat prompt: screened before the model, findings in prompt_filter_results
    chat = client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": [image, {"type": "text", "text": "Describe it."}]}]},
    )
    assert chat.status_code == 200, chat.text
    [prompt_result] = chat.json()["prompt_filter_results"]
    assert prompt_result["content_filter_results"]["spam"]["detected"]
    assert {f["image_index"] for f in prompt_result["image_findings"]} == {0}


def test_moderation_input_errors(client: httpx.Client) -> None:
    bad_image = client.post(
        "/v1/moderations", json={"input": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}
    )
    assert bad_image.status_code in (400, 415)
    assert bad_image.json()["error"]["param"] == "input[0].image_url.url"
    mixed = client.post("/v1/moderations", json={"input": ["a", {"type": "text", "text": "b"}]})
    assert mixed.status_code == 400 and mixed.json()["error"]["param"] == "input"
    missing = client.post("/v1/moderations", json={})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "input"


# Texts that made backtracking patterns quadratic: 30 KB each, near the prompt limit.
ADVERSARIAL_30KB = ["a" * 30_000, "tg " * 10_000, "4111 " * 6_000]


def test_thirty_kilobyte_adversarial_moderations_do_not_stall_chat(service: Service, client: httpx.Client) -> None:
    """Three 30 KB adversarial texts in flight (each sent again as soon as it is answered): a chat
    request is still answered within 1.5x its idle latency + 1 s (it took 23 s with backtracking)."""
    body = {"messages": [{"role": "user", "content": "Describe a tote bag."}], "max_tokens": 8, "temperature": 0.7}

    def chat_s() -> float:  # sampled without a seed: never a cache hit
        started = time.perf_counter()
        assert client.post("/v1/chat/completions", json=body).status_code == 200
        return time.perf_counter() - started

    chat_s()
    idle = sorted(chat_s() for _ in range(3))[1]
    stop, answered = threading.Event(), []
    flood_s: list[float] = []

    def flood(text: str) -> None:
        with httpx.Client(base_url=service.base_url, headers=client.headers, timeout=120) as moderator:
            while not stop.is_set():
                started = time.perf_counter()
                answered.append(moderator.post("/v1/moderations", json={"input": text}).status_code)
                flood_s.append(time.perf_counter() - started)

    threads = [threading.Thread(target=flood, args=(text,), daemon=True) for text in ADVERSARIAL_30KB]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # all three in flight
    busy = sorted(chat_s() for _ in range(3))
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    print(
        f"\n[e2e] chat idle {idle:.2f}s, with 3x30 KB in flight {busy} s; moderations {len(answered)}, "
        f"max {max(flood_s):.2f}s"
    )
    assert answered and set(answered) == {200}
    assert busy[1] <= 1.5 * idle + 1.0, f"chat took {busy} s with 30 KB moderations in flight (idle {idle:.2f} s)"


# --- chat with a blocked input --------------------------------------------------------------------------


def test_blocked_input_never_reaches_the_model(openai_client: openai.OpenAI) -> None:
    completion = openai_client.chat.completions.create(
        model="qwen3-vl-tiny", messages=[{"role": "user", "content": "where to find child porn"}], max_tokens=8
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "content_filter"
    assert completion.usage.completion_tokens == 0 and completion.usage.prompt_tokens == 0
    prompt_results = completion.model_extra["prompt_filter_results"][0]["content_filter_results"]
    assert prompt_results["sexual/minors"]["filtered"] is True
    assert prompt_results["sexual/minors"]["spans"]


def test_redacted_pii_in_the_prompt_is_only_flagged(client: httpx.Client) -> None:
    body = {"messages": [{"role": "user", "content": "mail me at jane.doe@example.com"}], "max_tokens": 4}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    pii = response.json()["prompt_filter_results"][0]["content_filter_results"]["pii"]
    assert pii["detected"] is True and pii["action"] == "flag" and pii["spans"][0][:2] == [11, 31]


# --- the audit log -------------------------------------------------------------------------------------


def test_decisions_are_listed_with_filters_and_paging(client: httpx.Client, admin: httpx.Client) -> None:
    headers = {"x-request-id": new_id("e2e-audit")}
    moderated = client.post(
        "/v1/moderations", json={"input": ["add wechat bag888", "hello", "buy cocaine here"]}, headers=headers
    )
    assert moderated.status_code == 200
    request_id = moderated.headers["x-request-id"]  # the service's own id keys the audit log
    # other requests' data: a caller key is refused, an admin key reads it
    refused = client.get("/v1/moderation/decisions", params={"request_id": request_id})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "admin_key_required"
    page = admin.get("/v1/moderation/decisions", params={"request_id": request_id}).json()
    assert len(page["data"]) == 3 and page["next_cursor"] is None
    record = page["data"][0]
    assert {"created_at", "direction", "categories", "scores", "action", "policy_version", "content_sha256"} <= set(
        record
    )
    assert all(r["content"] is None for r in page["data"])  # the shipped policy keeps hashes only
    spam = admin.get("/v1/moderation/decisions", params={"request_id": request_id, "category": "spam"}).json()
    assert [r["categories"] for r in spam["data"]] == [["spam"]]
    allowed = admin.get("/v1/moderation/decisions", params={"request_id": request_id, "action": "allow"}).json()
    assert len(allowed["data"]) == 1
    since = admin.get("/v1/moderation/decisions", params={"since": "2999-01-01T00:00:00Z"}).json()
    assert since["data"] == []
    first = admin.get("/v1/moderation/decisions", params={"request_id": request_id, "limit": 2}).json()
    second = admin.get(
        "/v1/moderation/decisions", params={"request_id": request_id, "limit": 2, "cursor": first["next_cursor"]}
    ).json()
    ids = [r["id"] for r in first["data"] + second["data"]]
    assert len(first["data"]) == 2 and len(second["data"]) == 1 and len(set(ids)) == 3


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"since": "yesterday"}, {"since": "2026-01-01T00:00:00"}, {"cursor": "!!"}, {"colour": "red"}],
)
def test_bad_decision_queries_are_400(admin: httpx.Client, params: dict[str, str]) -> None:
    response = admin.get("/v1/moderation/decisions", params=params)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_decisions_need_the_api_key(service: Service) -> None:
    assert httpx.get(f"{service.base_url}/v1/moderation/decisions").status_code == 401


def test_audit_survives_a_policy_filter_replica_kill(
    service: Service, client: httpx.Client, admin: httpx.Client
) -> None:
    """Decisions answered just before a SIGKILL are journaled; the replacement replica replays them."""
    sent_ids = [new_id("e2e-kill") for _ in range(12)]

    async def moderate_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=service.base_url, headers=client.headers, timeout=60) as c:
            return await asyncio.gather(
                *(
                    c.post("/v1/moderations", json={"input": "add wechat bag888"}, headers={"x-request-id": r})
                    for r in sent_ids
                )
            )

    responses = asyncio.run(moderate_all())
    assert [r.status_code for r in responses] == [200] * len(sent_ids)
    request_ids = [r.headers["x-request-id"] for r in responses]  # the service's own ids key the audit log
    (replica,) = service.replica_processes("PolicyFilter")
    replica.send_signal(signal.SIGKILL)
    replica.wait(timeout=30)
    killed_at = time.perf_counter()
    recovered = _wait_for_moderation(client)
    print(f"\n[e2e] PolicyFilter replica replaced; moderation answered again after {recovered - killed_at:.1f}s")
    found: set[str] = set()
    deadline = time.perf_counter() + RECOVERY_TIMEOUT_S
    while found != set(request_ids) and time.perf_counter() < deadline:
        for request_id in set(request_ids) - found:
            page = admin.get("/v1/moderation/decisions", params={"request_id": request_id}).json()
            if page["data"]:
                found.add(request_id)
        time.sleep(0.5)
    assert found == set(request_ids)


def _wait_for_moderation(client: httpx.Client) -> float:
    deadline = time.perf_counter() + RECOVERY_TIMEOUT_S
    while time.perf_counter() < deadline:
        try:
            if client.post("/v1/moderations", json={"input": "ping"}, timeout=10).status_code == 200:
                return time.perf_counter()
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError("moderation did not recover")


# --- the policy's life cycle --------------------------------------------------------------------------


def _with_policy(service: Service, policy_file: Path, out: Path) -> Path:
    config = yaml.safe_load(service.config.read_text())
    for deployment in config["applications"][0]["deployments"]:
        if deployment["name"] == "PolicyFilter":
            deployment["user_config"]["policy_file"] = str(policy_file)
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def test_policy_hot_reload_under_live_traffic(service: Service, tmp_path: Path) -> None:
    """`serve deploy` of a new policy file: no request fails, and the new version takes over."""
    original_config = yaml.safe_load(service.config.read_text())
    (filter_deployment,) = [d for d in original_config["applications"][0]["deployments"] if d["name"] == "PolicyFilter"]
    original_policy_file = Path(filter_deployment["user_config"]["policy_file"])
    policy = yaml.safe_load(original_policy_file.read_text())
    old_version = policy["version"]
    policy["version"] = f"{old_version}-reloaded"
    policy["categories"]["custom"]["terms"] = [*policy["categories"]["custom"]["terms"], "zorblax"]
    policy["categories"]["custom"]["input"] = "block"
    new_policy = write_policy(policy, tmp_path / "policy.yaml")

    statuses: list[int] = []
    versions: list[str] = []
    stop = threading.Event()

    def traffic() -> None:
        headers = {"authorization": f"Bearer {API_KEY}"}
        with httpx.Client(base_url=service.base_url, headers=headers, timeout=60) as c:
            while not stop.is_set():
                r = c.post("/v1/moderations", json={"input": "buy the zorblax bag"})
                statuses.append(r.status_code)
                if r.status_code == 200:
                    versions.append(r.json()["results"][0]["policy_version"])
                chat = c.post(
                    "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
                )
                statuses.append(chat.status_code)

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        time.sleep(1.0)
        deployed_at = time.perf_counter()
        service.deploy(_with_policy(service, new_policy, tmp_path / "serve.yaml"))
        deadline = time.perf_counter() + RECOVERY_TIMEOUT_S
        while (not versions or versions[-1] != policy["version"]) and time.perf_counter() < deadline:
            time.sleep(0.2)
        switched = time.perf_counter() - deployed_at
        time.sleep(1.0)
    finally:
        stop.set()
        worker.join(timeout=60)
        service.deploy(_with_policy(service, original_policy_file, tmp_path / "restore.yaml"))
    print(f"\n[e2e] policy hot reload: {len(statuses)} requests during reload, new version after {switched:.1f}s")
    assert statuses and set(statuses) == {200}
    assert versions[0] == old_version and versions[-1] == policy["version"]
    # each request saw one whole policy: the version changes once and never flips back
    changes = sum(1 for a, b in itertools.pairwise(versions) if a != b)
    assert changes == 1
    _wait_for_version(service, old_version)


def _wait_for_version(service: Service, version: str) -> None:
    headers = {"authorization": f"Bearer {API_KEY}"}
    deadline = time.perf_counter() + RECOVERY_TIMEOUT_S
    while time.perf_counter() < deadline:
        r = httpx.post(f"{service.base_url}/v1/moderations", json={"input": "x"}, headers=headers, timeout=10)
        if r.status_code == 200 and r.json()["results"][0]["policy_version"] == version:
            return
        time.sleep(0.2)
    raise TimeoutError(f"policy version {version} not restored")
