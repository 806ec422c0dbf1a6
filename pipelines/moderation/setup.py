"""Building a :class:`Moderator` from its settings: the one factory behind the PolicyFilter deployment
and the offline job, so both apply the same policy file, extra terms, layers and audit rules."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import Field

from pipelines.audit import AuditConfig, AuditLog
from pipelines.core.config import StrictConfig
from pipelines.core.paths import resolve_path
from pipelines.moderation.images.screeners import Generate, ImageScreener, build_image_screeners
from pipelines.moderation.moderator import AuditFailMode, Moderator
from pipelines.moderation.policy.config import Policy, load_policy
from pipelines.moderation.text.detectors import Detector
from pipelines.moderation.text.layers import LayersConfig, build_text_layers

DEFAULT_POLICY_FILE = "configs/policy.yaml"


class PolicySettings(StrictConfig):
    """The PolicyFilter deployment's ``user_config``; the offline job's ``policy`` section."""

    policy_file: str = Field(DEFAULT_POLICY_FILE, description="Policy YAML; relative paths resolve as for args.")
    extra_terms: dict[str, list[str]] = Field(
        default_factory=dict, description="Extra customer terms per category, added to the policy's term lists."
    )
    layers: LayersConfig = Field(
        default_factory=LayersConfig, description="Classifier, guard-model and image-screening layers."
    )


def configured_policy(settings: PolicySettings) -> Policy:
    """The policy file with the extra terms added."""
    policy = load_policy(resolve_path(settings.policy_file))
    for category, terms in settings.extra_terms.items():
        policy = policy.with_extra_terms(category, terms)
    return policy


@dataclass(frozen=True)
class Layers:
    """The model-backed layers built for one ``LayersConfig``: rebuilt only when it changes (a guard
    model takes seconds to load; a term edit must apply in milliseconds)."""

    config: LayersConfig
    text: Sequence[Detector]
    images: Sequence[ImageScreener]

    @classmethod
    def build(cls, config: LayersConfig, generate: Generate | None) -> Layers:
        return cls(config, build_text_layers(config), build_image_screeners(config.image, generate=generate))


def audit_log(config: AuditConfig | None) -> AuditLog | None:
    """The audit log a moderator writes to. The policy's ``audit_keep_content`` decides per decision
    (the Moderator drops content otherwise), so the log itself must not drop it again."""
    if config is None:
        return None
    return AuditLog(config.model_copy(update={"keep_content": True}))


def policy_digest(policy: Policy, layers: LayersConfig) -> str:
    """SHA-256 of the effective policy: every category's terms (files and extra terms included),
    patterns, thresholds and actions, and the layers' settings. Two configs decide alike exactly when
    their digests match, whatever ``version`` says."""
    material = {"policy": policy.model_dump(mode="json"), "layers": layers.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(material, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def build_moderator(
    policy: Policy,
    layers: Layers,
    *,
    audit: AuditLog | None,
    audit_fail_mode: AuditFailMode,
    model_name: str | None,
    app_version: str | None,
    on_audit_failure: Callable[[], None] | None = None,
) -> Moderator:
    moderator = Moderator(
        policy,
        text_layers=layers.text,
        image_screeners=layers.images,
        audit=audit,
        audit_fail_mode=audit_fail_mode,
        model_name=model_name,
        app_version=app_version,
        policy_digest=policy_digest(policy, layers.config),
    )
    moderator.on_audit_failure = on_audit_failure
    return moderator
