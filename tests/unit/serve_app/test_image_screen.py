"""The image screens wired into the PolicyFilter and the ImageScreen deployment, in process (no Ray).

Real models throughout (rapidocr's PP-OCRv4, OpenCV's QR decoder, the converted nsfwjs network); only
the deployment handle between the two deployments is replaced, by an in-process call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from devtools.service import ad_image, data_url
from pipelines.moderation.images.decision import ImageDecision, check_with_findings
from pipelines.moderation.images.judge import ImageJudge
from pipelines.moderation.images.reading import ImageReadConfig, ImageReading
from pipelines.moderation.images.screening import read_images
from pipelines.moderation.moderator import Moderator
from pipelines.moderation.policy.config import Policy, load_policy
from serve_app.deployments.image_screen import ImageScreenDeployment
from serve_app.deployments.policy_filter import PolicyFilterDeployment

ROOT = Path(__file__).resolve().parents[3]
# the tiny CPU model's budget (configs/cpu.yaml resize_max_pixels): no text survives it
TINY_MODEL_PIXELS = 16_384


def model_copy(image: Image.Image) -> Image.Image:
    """What the validator hands the model under the tiny model's budget (128 x 96)."""
    scale = (TINY_MODEL_PIXELS / (image.width * image.height)) ** 0.5
    return image.resize((int(image.width * scale), int(image.height * scale)), Image.Resampling.BICUBIC)


class _Method:
    def __init__(self, call: Callable[..., Awaitable[Any]]) -> None:
        self.call = call

    def remote(self, *args: Any) -> Awaitable[Any]:
        return self.call(*args)


class InProcessHandle:
    """Stands in for a DeploymentHandle: ``handle.read.remote(...)`` awaits the method itself."""

    def __init__(self, read: Callable[..., Awaitable[Any]]) -> None:
        self.read = _Method(read)


@pytest.fixture(scope="module")
def image_screen() -> Any:
    deployment = ImageScreenDeployment.func_or_class()
    deployment.reconfigure({"readers": 2, "warmup": True})
    return deployment


def policy_filter(handle: Any, **image: Any) -> Any:
    deployment = PolicyFilterDeployment.func_or_class(None, "tiny", None, handle)
    deployment.reconfigure(
        {
            "policy_file": str(ROOT / "configs/policy.yaml"),
            # rule layers only: the classifier is retrained elsewhere, and these hits are rule hits
            "layers": {"classifier": {"enabled": False}, "image": image},
        }
    )
    return deployment


def test_ocr_and_qr_of_the_image_as_sent_reach_the_text_layers(image_screen: Any) -> None:
    original = ad_image()
    moderation = policy_filter(InProcessHandle(image_screen.read))
    decision = asyncio.run(
        moderation.check(
            "Is this bag real leather?", "input", "r1", None, [model_copy(original)], False, [data_url(original)]
        )
    )
    assert isinstance(decision, ImageDecision)
    assert decision.categories["spam"].detected
    assert not decision.categories["screen_unavailable"].detected
    found = {(f.source, f.category) for f in decision.images}
    assert ("code", "spam") in found and ("ocr", "spam") in found
    code = next(f for f in decision.images if (f.source, f.category) == ("code", "spam"))
    assert code.image_index == 0 and "wa.me/14155550123" in code.text
    (x0, y0), _, (x2, y2), _ = code.boxes[0]  # in the original's pixels, around the pasted code
    assert 560 < x0 < 700 and 260 < y0 < 400 and x2 > x0 + 150 and y2 > y0 + 150
    ocr = next(f for f in decision.images if (f.source, f.category) == ("ocr", "spam"))
    assert "wechat" in ocr.text and ocr.boxes[0][0][1] < 200


def test_the_model_copy_alone_would_hide_the_text(image_screen: Any) -> None:
    """Why the screens read the inline source: at the tiny model's budget neither screen sees anything."""
    original = ad_image()
    moderation = policy_filter(InProcessHandle(image_screen.read))
    decision = asyncio.run(moderation.check("hello", "input", "r2", None, [model_copy(original)], False, [None]))
    assert not decision.categories["spam"].detected and decision.images == []


def test_images_are_read_in_parallel_each_under_its_deadline() -> None:
    started: list[float] = []

    async def read_one(index: int, image: Image.Image, inline: str | None, budget_s: float) -> ImageReading:
        started.append(time.monotonic())
        if index == 1:
            raise RuntimeError("replica died")
        await asyncio.sleep(5.0 if index == 2 else 0.2)
        return ImageReading(index, None, {"porn": 0.0}, "validated", 1, 1, 0.0, 0.0)

    images = [Image.new("RGB", (8, 8))] * 4
    begun = time.monotonic()
    readings = asyncio.run(read_images(read_one, images, [None] * 4, deadline_s=0.5))
    elapsed = time.monotonic() - begun
    assert [r is not None for r in readings] == [True, False, False, True]
    assert elapsed < 1.0 and max(started) - min(started) < 0.1  # all started at once; the slow one cut off


@pytest.mark.parametrize("failure", ["error", "timeout"])
def test_a_failed_or_late_screen_is_the_screen_unavailable_fail_mode(failure: str) -> None:
    async def read(*args: Any) -> ImageReading:
        if failure == "error":
            raise RuntimeError("no replica")
        await asyncio.sleep(2.0)
        raise AssertionError("not reached")

    moderation = policy_filter(InProcessHandle(read), deadline_s=0.2)
    image = Image.new("RGB", (64, 64), (200, 200, 200))
    decision = asyncio.run(moderation.check("hello", "input", "r3", None, [image], False, [None]))
    result = decision.categories["screen_unavailable"]
    assert result.detected and result.action == "flag"  # the policy's fail mode for screens: fail open, flagged
    assert decision.images[0].source == "image" and decision.images[0].layer == "unavailable"
    assert moderation.health()["image_screen"]["failures"] == 1


def test_nsfw_classes_map_onto_sexual_with_the_policy_thresholds(image_screen: Any) -> None:
    """The shipped thresholds pass a plain picture; a policy whose `images.nsfw` and `sexual` thresholds
    are zero flags it: the policy file decides, per class, under its category."""
    image = Image.new("RGB", (64, 64), (90, 140, 200))
    reading = asyncio.run(image_screen.read(image, 0, ImageReadConfig(), None, 10.0))
    assert reading.nsfw is not None and abs(sum(reading.nsfw.values()) - 1.0) < 1e-4
    moderation = policy_filter(InProcessHandle(image_screen.read))
    clean = asyncio.run(moderation.check("hello", "input", "r4", None, [image], False, [None]))
    assert not clean.categories["sexual"].detected and clean.images == []

    data = load_policy(ROOT / "configs/policy.yaml").model_dump()
    data["categories"]["sexual"]["threshold"] = 0.0
    data["images"]["nsfw"]["thresholds"] = {"porn": 0.0, "hentai": None, "sexy": None}
    moderator = Moderator(Policy.model_validate(data), image_screeners=[])
    judge = ImageJudge(moderator.engine, ImageReadConfig(), "screen_unavailable")
    flagged = check_with_findings(moderator, judge.judge(reading), "hello", "input", "r5", images=[image])
    assert flagged.categories["sexual"].detected
    assert [(f.source, f.category, f.text) for f in flagged.images] == [("nsfw", "sexual", "porn")]
    assert flagged.images[0].score == pytest.approx(reading.nsfw["porn"])


def test_reading_off_leaves_the_check_to_the_other_layers() -> None:
    async def read(*args: Any) -> ImageReading:
        raise AssertionError("the image screen must not be called")

    off = {"text": {"ocr": {"enabled": False}, "codes": {"enabled": False}}, "nsfw": {"enabled": False}}
    moderation = policy_filter(InProcessHandle(read), read=off)
    decision = asyncio.run(moderation.check("hello", "input", "r6", None, [Image.new("RGB", (8, 8))], False, []))
    assert decision.action == "allow"
