"""The VLM image question wired into the PolicyFilter, in process (no Ray): the handle to the VLM is a
fake whose replica answers late, so the screener's deadline, the cancellation and the fail mode show."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from PIL import Image

from pipelines.core.types import GenerationRequest, GenerationResult
from pipelines.moderation.policy.engine import PolicyDecision
from serve_app.deployments.policy_filter import PolicyFilterDeployment

ROOT = Path(__file__).resolve().parents[3]
DEADLINE_S = 0.3
READ_OFF = {"text": {"ocr": {"enabled": False}, "codes": {"enabled": False}}, "nsfw": {"enabled": False}}


class _SlowResponse:
    """A DeploymentResponse whose replica answers ``answer_after_s`` after the call."""

    def __init__(self, request: GenerationRequest, answer: str, answer_after_s: float) -> None:
        self.request, self.answer, self.answer_after_s = request, answer, answer_after_s
        self.cancelled = False
        self.timeouts: list[float | None] = []

    def result(self, timeout_s: float | None = None) -> GenerationResult:
        self.timeouts.append(timeout_s)
        if timeout_s is not None and timeout_s < self.answer_after_s:
            time.sleep(timeout_s)
            raise TimeoutError("Timed out waiting for result.")
        time.sleep(self.answer_after_s)
        return GenerationResult(self.request.request_id, self.answer, "stop", 1, 1, 1)

    def cancel(self) -> None:
        self.cancelled = True


class SlowVLMHandle:
    """Stands in for the VLM's DeploymentHandle: ``handle.generate.remote(request)``."""

    def __init__(self, answer: str, answer_after_s: float) -> None:
        self.answer, self.answer_after_s = answer, answer_after_s
        self.responses: list[_SlowResponse] = []
        self.generate = self

    def remote(self, request: GenerationRequest) -> _SlowResponse:
        self.responses.append(_SlowResponse(request, self.answer, self.answer_after_s))
        return self.responses[-1]


def policy_filter(handle: Any) -> Any:
    deployment = PolicyFilterDeployment.func_or_class(None, "tiny", handle, None)
    deployment.reconfigure(
        {
            "policy_file": str(ROOT / "configs/policy.yaml"),
            "layers": {
                "classifier": {"enabled": False},
                "image": {"read": READ_OFF, "vlm_question": {"enabled": True, "deadline_s": DEADLINE_S}},
            },
        }
    )
    return deployment


def check(deployment: Any, images: int) -> PolicyDecision:
    return asyncio.run(deployment.check("hello", "input", "r1", None, [Image.new("RGB", (8, 8))] * images))


def test_a_slow_vlm_is_cut_off_at_the_deadline_and_its_calls_cancelled() -> None:
    handle = SlowVLMHandle("VERDICT: SAFE", answer_after_s=30.0)
    deployment = policy_filter(handle)
    started = time.monotonic()
    decision = check(deployment, images=3)
    elapsed = time.monotonic() - started
    assert decision.categories["screen_unavailable"].detected
    assert DEADLINE_S * 0.8 < elapsed < DEADLINE_S + 2.0
    assert len(handle.responses) == 3 and all(r.cancelled for r in handle.responses)
    assert all(t is not None and t <= DEADLINE_S for r in handle.responses for t in r.timeouts)


def test_a_vlm_within_the_deadline_decides() -> None:
    handle = SlowVLMHandle("VERDICT: UNSAFE: violence", answer_after_s=0.0)
    decision = check(policy_filter(handle), images=2)
    assert decision.categories["violence"].detected
    assert not decision.categories["screen_unavailable"].detected
    assert not any(r.cancelled for r in handle.responses)


def test_an_injected_answer_is_no_verdict() -> None:
    """Text in the image that makes the model write "answer: none" fires the fail mode, not clean."""
    decision = check(policy_filter(SlowVLMHandle("answer: none", answer_after_s=0.0)), images=1)
    assert decision.categories["screen_unavailable"].detected
