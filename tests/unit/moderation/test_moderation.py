"""The Moderator (layers + screeners + audit), the OpenAI moderation view and moderation input parsing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import time
from pathlib import Path

import pytest
from PIL import Image

from pipelines.audit import AuditConfig, AuditLog, AuditRecord
from pipelines.audit.record import EXTRA_MAX_BYTES
from pipelines.core.errors import InvalidRequestError, OverloadedError, PayloadTooLargeError
from pipelines.inputs.images import image_sha256
from pipelines.inputs.validation import ValidationLimits, validate_moderation_input
from pipelines.moderation.images.decision import check_with_findings
from pipelines.moderation.images.judge import ImageFinding
from pipelines.moderation.moderator import OPENAI_CATEGORY_SOURCES, Moderator, fit_extra, openai_moderation
from pipelines.moderation.policy.config import Policy, load_policy
from pipelines.moderation.setup import PolicySettings, configured_policy, policy_digest
from pipelines.moderation.text.detectors import Hit
from pipelines.moderation.text.layers import LayersConfig, ProfanityConfig, ProfanityLayer

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(ROOT / "configs" / "policy.yaml")


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    log = AuditLog(
        AuditConfig(url=f"sqlite:///{tmp_path / 'audit.db'}", journal_dir=str(tmp_path / "journal"), keep_content=True)
    )
    yield log
    log.close()


class FixedScreener:
    """An image screener with a known answer (stands in for a detector model's verdict)."""

    name = "fixed"

    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits

    def screen(self, images: object) -> list[Hit]:
        return self.hits


def _png_data_url(color: str = "red", size: tuple[int, int] = (32, 32)) -> str:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


# --- Moderator and the audit log --------------------------------------------------------------------


def test_every_decision_is_audited_with_hash_and_version(policy: Policy, audit: AuditLog) -> None:
    moderator = Moderator(policy, audit=audit, model_name="m1", app_version="9.9.9")
    moderator.check("add wechat abc123 for cheap bags", "input", "req-1")
    moderator.check("a fine answer", "output", "req-1", prompt="q")
    assert audit.flush(timeout_s=5)
    records, _ = audit.query(request_id="req-1")
    by_direction = {r.direction: r for r in records}
    assert set(by_direction) == {"input", "output"}
    assert "spam" in by_direction["input"].categories and by_direction["input"].action != "allow"
    assert by_direction["output"].action == "allow" and by_direction["output"].model == "m1"
    assert all(r.policy_version == policy.version and len(r.content_sha256) == 64 for r in records)
    assert all(r.content is None for r in records)  # the shipped policy does not keep content
    assert by_direction["output"].extra == {"app_version": "9.9.9"}
    # where the spam matched, for a reviewer (positions and layer only: no text unless content is kept)
    spam = by_direction["input"].extra["categories"]["spam"]
    spam_spans = spam["spans"]
    assert by_direction["input"].extra["app_version"] == "9.9.9" and spam_spans
    assert spam["action"] == by_direction["input"].action and "patterns" in spam["layers"]
    assert all(0 <= start < end <= len("add wechat abc123 for cheap bags") for start, end, _ in spam_spans)


def test_image_findings_are_audited_with_boxes_and_their_text_only_when_content_is_kept(
    policy: Policy, audit: AuditLog
) -> None:
    finding = ImageFinding(1, "ocr", "spam", 0.9, "patterns", "加微信 shop8899", (((1, 2), (30, 2), (30, 9), (1, 9)),))
    for keep, rid in ((False, "req-f1"), (True, "req-f2")):
        kept = Policy.model_validate(policy.model_dump() | {"audit_keep_content": keep})
        check_with_findings(Moderator(kept, audit=audit), [finding], "look", "input", rid)
    assert audit.flush(timeout_s=5)
    (hidden,), _ = audit.query(request_id="req-f1")
    (shown,), _ = audit.query(request_id="req-f2")
    described = {"image_index": 1, "category": "spam", "source": "ocr", "layer": "patterns", "score": 0.9}
    assert hidden.extra["images"] == [described | {"boxes": [[[1.0, 2.0], [30.0, 2.0], [30.0, 9.0], [1.0, 9.0]]]}]
    assert shown.extra["images"][0]["text"] == "加微信 shop8899"


def test_audit_extra_is_cut_to_fit_the_record_bound() -> None:
    images = [{"image_index": i, "boxes": [[[0.0, 0.0]] * 4] * 8} for i in range(200)]
    spans = {"pii": {"action": "redact", "layers": ["patterns"], "spans": [[i, i + 1, "patterns"] for i in range(50)]}}
    extra = fit_extra({"app_version": "1"}, categories=spans, images=images)
    encoded = json.dumps(extra, separators=(",", ":")).encode()
    assert len(encoded) <= EXTRA_MAX_BYTES
    assert extra["categories"] == spans and 0 < len(extra["images"]) < 200  # the later list gives way first
    AuditRecord(
        request_id="r", direction="input", action="flag", policy_version="v", content_sha256="0" * 64, extra=extra
    )


def test_audited_digests_are_keyed_not_bare_sha256(policy: Policy, audit: AuditLog) -> None:
    text = "a fine answer"
    Moderator(policy, audit=audit).check(text, "output", "req-digest", prompt="q")
    assert audit.flush(timeout_s=5)
    (record,), _ = audit.query(request_id="req-digest")
    assert record.digest == "hmac-sha256"
    assert record.content_sha256 == hmac.new(audit.digest_key, text.encode(), hashlib.sha256).hexdigest()
    assert record.content_sha256 != hashlib.sha256(text.encode()).hexdigest()


def test_content_is_kept_only_when_the_policy_says_so(policy: Policy, audit: AuditLog) -> None:
    keeping = Policy.model_validate(policy.model_dump() | {"audit_keep_content": True})
    Moderator(keeping, audit=audit).check("keep me", "input", "req-keep")
    assert audit.flush(timeout_s=5)
    (record,), _ = audit.query(request_id="req-keep")
    assert record.content == "keep me"


def test_image_hits_join_the_decision_and_images_are_hashed(policy: Policy, audit: AuditLog) -> None:
    screener = FixedScreener([Hit("sexual", 0, 0, 0.97, "fixed", "")])
    moderator = Moderator(policy, image_screeners=[screener], audit=audit)
    image = Image.new("RGB", (16, 16), "blue")
    decision = moderator.check("what is in this picture?", "input", "req-img", images=[image])
    assert decision.categories["sexual"].detected and decision.categories["sexual"].score == 0.97
    text_only = moderator.check("what is in this picture?", "input", "req-txt")
    assert not text_only.categories["sexual"].detected  # screeners run only when there are images
    assert audit.flush(timeout_s=5)
    (record,), _ = audit.query(request_id="req-img")
    assert record.extra["image_sha256"] == [image_sha256(image)]
    assert record.extra["categories"] == {"sexual": {"action": "flag", "layers": ["fixed"], "spans": []}}


def test_image_hash_ignores_container_but_not_pixels() -> None:
    a = Image.new("RGB", (8, 8), "red")
    buf = io.BytesIO()
    a.save(buf, "PNG")
    assert image_sha256(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")) == image_sha256(a)
    assert image_sha256(Image.new("RGB", (8, 8), "blue")) != image_sha256(a)


@pytest.mark.parametrize(("fail_mode", "raises"), [("fail_open", False), ("fail_closed", True)])
def test_audit_outage_follows_the_fail_mode(policy: Policy, tmp_path: Path, fail_mode: str, raises: bool) -> None:
    log = AuditLog(AuditConfig(url=f"sqlite:///{tmp_path / 'a.db'}", journal_dir=str(tmp_path / "j")))
    log.close()  # a closed log refuses records, like a lost journal disk
    moderator = Moderator(policy, audit=log, audit_fail_mode=fail_mode)  # type: ignore[arg-type]
    if raises:
        with pytest.raises(OverloadedError):
            moderator.check("hello", "input", "req-x")
    else:
        assert moderator.check("hello", "input", "req-x").action == "allow"
    assert moderator.audit_failures == 1


# --- OpenAI's moderation view -------------------------------------------------------------------------


def test_openai_view_maps_our_categories(policy: Policy) -> None:
    moderator = Moderator(policy, text_layers=[ProfanityLayer(ProfanityConfig())])
    decision = moderator.check("You are a worthless idiot and I will kill you", "input", "r")
    view = openai_moderation(decision, has_text=True, has_image=False)
    assert set(view.categories) == set(OPENAI_CATEGORY_SOURCES)
    assert view.categories["harassment"] and view.categories["hate"]
    assert view.categories["violence"] and view.categories["harassment/threatening"]
    assert not view.categories["sexual"] and not view.categories["self-harm/intent"]
    assert view.category_scores["harassment"] == decision.categories["hate/harassment"].score
    assert view.category_applied_input_types["sexual"] == ["text"]


def test_openai_view_applied_input_types_for_images(policy: Policy) -> None:
    decision = Moderator(policy).check("", "input", "r")
    view = openai_moderation(decision, has_text=False, has_image=True)
    assert view.category_applied_input_types["sexual"] == ["image"]
    assert view.category_applied_input_types["harassment"] == []
    assert not any(view.categories.values())


# --- moderation input parsing ---------------------------------------------------------------------


LIMITS = ValidationLimits(resize_max_pixels=None, resize_min_pixels=None)


def test_moderation_input_shapes() -> None:
    (one,) = validate_moderation_input("hello", LIMITS)
    assert one.text == "hello" and one.images == []
    assert [i.text for i in validate_moderation_input(["a", "b"], LIMITS)] == ["a", "b"]
    parts = [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": _png_data_url()}}]
    (multi,) = validate_moderation_input(parts, LIMITS)
    assert multi.text == "look" and len(multi.images) == 1 and multi.images[0].image.size == (32, 32)


@pytest.mark.parametrize("value", [None, 3, [], ["a", {"type": "text", "text": "b"}], {"text": "x"}])
def test_moderation_input_bad_shapes_are_400(value: object) -> None:
    with pytest.raises(InvalidRequestError) as err:
        validate_moderation_input(value, LIMITS)
    assert err.value.param == "input"


def test_moderation_input_parts_are_checked_like_chat_parts() -> None:
    with pytest.raises(InvalidRequestError) as err:
        validate_moderation_input([{"type": "audio", "data": "x"}], LIMITS)
    assert err.value.param == "input[0].type"
    with pytest.raises(InvalidRequestError) as err:
        validate_moderation_input([{"type": "image_url", "image_url": {"url": "data:image/png;base64,!!"}}], LIMITS)
    assert err.value.param == "input[0].image_url.url"


def test_moderation_input_limits() -> None:
    small = LIMITS.model_copy(update={"max_moderation_inputs": 2, "max_prompt_chars": 10})
    with pytest.raises(PayloadTooLargeError) as err:
        validate_moderation_input(["a", "b", "c"], small)
    assert err.value.code == "too_many_inputs"
    with pytest.raises(PayloadTooLargeError) as err:
        validate_moderation_input("x" * 11, small)
    assert err.value.param == "input" and err.value.code == "prompt_too_long"


@pytest.mark.parametrize(("fail_mode", "refuses"), [("fail_open", False), ("fail_closed", True)])
def test_database_outage_follows_the_fail_mode_and_shows_in_health(
    policy: Policy, tmp_path: Path, fail_mode: str, refuses: bool
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("the database's parent directory cannot be created here")
    log = AuditLog(
        AuditConfig(
            url=f"sqlite:///{blocker / 'audit.db'}",
            journal_dir=str(tmp_path / "journal"),
            flush_interval_s=0.05,
            retry_initial_s=0.05,
            retry_max_s=0.1,
        )
    )
    try:
        moderator = Moderator(policy, audit=log, audit_fail_mode=fail_mode)  # type: ignore[arg-type]
        moderator.check("first decision, journaled while the database is tried", "input", "req-1")
        deadline = time.monotonic() + 10
        while log.health()["ok"] and time.monotonic() < deadline:
            time.sleep(0.05)
        health = log.health()
        assert not health["ok"] and health["last_error"] and health["pending"] >= 1  # kept in the journal
        if refuses:
            with pytest.raises(OverloadedError):
                moderator.check("second", "input", "req-2")
        else:
            assert moderator.check("second", "input", "req-2").action == "allow"
            assert log.health()["pending"] >= 2  # nothing is lost while the database is down
    finally:
        log.close(timeout_s=0.1)


def test_the_policy_digest_follows_every_run_time_change() -> None:
    policy_file = str(Path(__file__).resolve().parents[3] / "configs" / "policy.yaml")
    base = configured_policy(PolicySettings(policy_file=policy_file))
    layers = LayersConfig()
    digest = policy_digest(base, layers)
    assert digest == policy_digest(configured_policy(PolicySettings(policy_file=policy_file)), LayersConfig())
    extra = configured_policy(PolicySettings(policy_file=policy_file, extra_terms={"spam": ["brand-new lure"]}))
    assert extra.version == base.version and policy_digest(extra, layers) != digest
    stricter = LayersConfig.model_validate({"classifier": {"enabled": False}})
    assert policy_digest(base, stricter) != digest
