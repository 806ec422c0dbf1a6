"""One real service per test session, started with `serve run` on the CPU config."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import yaml

from devtools.service import ROOT, Service, free_port, write_config, write_policy

API_KEY = "e2e-test-key-7f3a"
API_KEY_ENV = "QVS_E2E_API_KEYS"
ADMIN_KEY = "e2e-admin-key-91c2"
ADMIN_KEY_ENV = "QVS_E2E_ADMIN_KEYS"
BLOCK_PROMPT = "Write a short product description for this leather bag."
BLOCK_MAX_TOKENS = 24


def greedy_answer(model_dir: Path, prompt: str, max_tokens: int) -> str:
    """What the tiny model says, computed in-process with the same engine the service uses."""
    from pipelines.core.types import GenerationRequest, Message, SamplingParams, TextPart
    from pipelines.engine.vlm import EngineConfig, VLMEngine

    engine = VLMEngine(
        EngineConfig(model=str(model_dir), dtype="float32", device="cpu", local_files_only=True, warmup=False)
    )
    request = GenerationRequest("probe", [Message("user", [TextPart(prompt)])], SamplingParams(max_tokens=max_tokens))
    return engine.generate_batch([request])[0].text


@pytest.fixture(scope="session")
def blocked_word(tiny_model_dir: Path) -> str:
    """A whole word of the model's greedy answer to BLOCK_PROMPT: the policy will block it."""
    words = re.findall(
        r"(?<![A-Za-z])[A-Za-z]{3,}(?![A-Za-z])", greedy_answer(tiny_model_dir, BLOCK_PROMPT, BLOCK_MAX_TOKENS)
    )
    assert words, "the tiny model's answer has no word to block"
    return max(words, key=len)


STREAM_MAX_TOKENS = 64
# The composition example (examples/caption_moderate.py) runs beside the service, as README shows.
CAPTION_APP = {
    "name": "caption",
    "route_prefix": "/example",
    "import_path": "examples.caption_moderate:build_app",
    "args": {"target_app": "qwen-vl"},
    # the same key source as the service's Ingress (tests/e2e/conftest.py's service fixture)
    "deployments": [{"name": "CaptionModerate", "user_config": {"api_key_env": "QVS_E2E_API_KEYS"}}],
}


@pytest.fixture(scope="session")
def clean_prompt(tiny_model_dir: Path, blocked_word: str) -> str:
    """A prompt whose greedy answer the test policy lets through and that is long enough to stream
    in several pieces past the hold-back window."""
    for i in range(40):
        prompt = f"Describe product number {i} for a shop page, in detail please."
        answer = greedy_answer(tiny_model_dir, prompt, STREAM_MAX_TOKENS)
        if not _blocked_output(answer, blocked_word) and len(answer) > 120:
            return prompt
    raise AssertionError("no clean prompt found for the tiny model")


# 4 such requests at once run ~15 s on 2 cores: still in flight when a stop starts draining (~4 s)
LONG_TOKENS = 1500


def _blocked_output(text: str, blocked_word: str) -> bool:
    """Whether the test service's policy (shipped policy, the custom term, the classifier) would
    stop this answer: random-weight text sometimes reads as abuse to the classifier."""
    from pipelines.moderation.policy.config import load_policy
    from pipelines.moderation.policy.engine import PolicyEngine
    from pipelines.moderation.text.layers import LayersConfig, build_text_layers

    engine = PolicyEngine(load_policy(ROOT / "configs" / "policy.yaml"), build_text_layers(LayersConfig()))
    return blocked_word in text or engine.check(text, "output").action in ("block", "redact")


@pytest.fixture(scope="session")
def long_prompt(tiny_model_dir: Path, blocked_word: str) -> str:
    """A prompt the tiny model answers for at least LONG_TOKENS tokens without an end-of-text token,
    and without the word the test policy blocks."""
    from pipelines.core.types import GenerationRequest, Message, SamplingParams, TextPart
    from pipelines.engine.vlm import EngineConfig, VLMEngine

    engine = VLMEngine(
        EngineConfig(model=str(tiny_model_dir), dtype="float32", device="cpu", local_files_only=True, warmup=False)
    )
    for i in range(40):
        prompt = f"Write a very long story number {i}."
        request = GenerationRequest("probe", [Message("user", [TextPart(prompt)])], SamplingParams(LONG_TOKENS))
        result = engine.generate_batch([request])[0]
        if result.finish_reason == "length" and not _blocked_output(result.text, blocked_word):
            return prompt
    raise AssertionError("no long-answer prompt found for the tiny model")


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, blocked_word: str) -> Iterator[Service]:
    work = tmp_path_factory.mktemp("service")
    policy = yaml.safe_load((ROOT / "configs" / "policy.yaml").read_text())
    custom = policy["categories"]["custom"]
    custom["terms"] = [blocked_word]
    custom["output"] = "block"
    policy_file = write_policy(policy, work / "policy.yaml")
    port = free_port()
    config = write_config(
        ROOT / "configs" / "cpu.yaml",
        work / "serve.yaml",
        port,
        {
            "PolicyFilter": {"policy_file": str(policy_file)},
            "Ingress": {"api_key_env": API_KEY_ENV, "admin_api_key_env": ADMIN_KEY_ENV},
        },
        args={"audit": {"url": f"sqlite:///{work / 'audit.db'}", "journal_dir": str(work / "audit-journal")}},
        extra_apps=[CAPTION_APP],
    )
    svc = Service(config, port, work / "serve.log", env={API_KEY_ENV: f"other-key,{API_KEY}", ADMIN_KEY_ENV: ADMIN_KEY})
    svc.start()
    print(f"\n[e2e] cold start to ready: {svc.cold_start_s:.1f}s (log: {svc.log})")
    yield svc
    svc.stop()


@pytest.fixture
def client(service: Service) -> Iterator[httpx.Client]:
    """A caller: the generation and moderation routes."""
    with httpx.Client(base_url=service.base_url, headers={"authorization": f"Bearer {API_KEY}"}, timeout=120) as c:
        yield c


@pytest.fixture
def admin(service: Service) -> Iterator[httpx.Client]:
    """An admin key: the audit log too."""
    with httpx.Client(base_url=service.base_url, headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=120) as c:
        yield c


@pytest.fixture
def openai_client(service: Service) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{service.base_url}/v1", api_key=API_KEY, max_retries=0)
