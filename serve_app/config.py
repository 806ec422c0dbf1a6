"""Typed configuration of the application.

``AppArgs`` is what ``configs/*.yaml`` passes as ``args`` to ``build_app``: static choices made
at deploy time (which model, which policy file). The ``*UserConfig`` models are each
deployment's ``user_config``: knobs that change at run time through ``reconfigure()`` without a
restart. All models forbid unknown keys so a typo in a config fails the deploy, loudly.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from pipelines.audit import AuditConfig
from pipelines.cache import CacheConfig
from pipelines.core.config import StrictConfig
from pipelines.engine.vlm import EngineConfig
from pipelines.inputs.validation import ValidationLimits
from pipelines.moderation.setup import PolicySettings


class BatchingConfig(StrictConfig):
    """`user_config` of the VLM deployment.

    Two levels: ``@serve.batch`` groups arriving requests (``max_batch_size``,
    ``batch_wait_timeout_s``) so they are prefilled together; the continuous engine then decodes
    up to ``max_running`` sequences per step, letting new groups join while others run.
    """

    max_batch_size: int = Field(8, ge=1, le=256, description="Most requests admitted (prefilled) together.")
    batch_wait_timeout_s: float = Field(
        0.02, ge=0.0, le=10.0, description="How long a partial admission group waits for more requests."
    )
    max_running: int = Field(
        32, ge=1, le=1024, description="Most sequences in one decode step (bounds the KV cache); the rest wait."
    )


# `user_config` of the PolicyFilter deployment: the same settings the offline job takes.
PolicyUserConfig = PolicySettings


class IngressUserConfig(StrictConfig):
    """`user_config` of the Ingress deployment."""

    max_body_bytes: int = Field(
        20 * 1024 * 1024, ge=1024, description="Largest request body; enforced while the body is read."
    )
    api_key_env: str | None = Field(
        None,
        description="Environment variable holding comma-separated caller API keys. Named but unset or empty: "
        "the replica refuses to start (auth never turns itself off).",
    )
    api_key_file: str | None = Field(
        None, description="File with one caller API key per line. Named but missing or empty: refuses to start."
    )
    admin_api_key_env: str | None = Field(
        None,
        description="Environment variable holding comma-separated admin keys: they alone may read other requests' "
        "data (`/v1/moderation/decisions`, `/stats`) and the loaded policy (`/policy`), and they may call every other "
        "route too. Named but empty: refuses to start. With caller keys and no admin keys, the audit routes answer "
        "403 to everyone.",
    )
    admin_api_key_file: str | None = Field(
        None, description="File with one admin key per line; the same rules as `admin_api_key_env`."
    )
    allow_unauthenticated: bool = Field(
        False,
        description="Serve without any key on a non-loopback `http_options.host`. Without it the preflight of "
        "`make serve` refuses that config: an open door must be chosen, never fallen into.",
    )
    request_deadline_s: float = Field(
        50.0,
        gt=0,
        description="A generation still running after this long is dropped and answered 504; keep it below "
        "`http_options.request_timeout_s` (the proxy's 408).",
    )
    draining: bool = Field(
        False,
        description="Set by `make stop` / `python -m serve_app.ops.shutdown` before Serve is stopped: new requests "
        "are answered 503 `shutting_down` (with Retry-After) and /readyz fails, while requests and streams in "
        "flight finish. Leave false in configs.",
    )
    stream_hold_back_chars: int = Field(
        48,
        ge=0,
        description="Streamed text kept back until later text shows it does not start a policy match; longer "
        "than the longest term or pattern you need caught across tokens.",
    )
    stream_approve_chars: int = Field(
        256,
        ge=1,
        description="With a model layer in the policy (the guard), streamed text is released only after every "
        "layer approved it: at each sentence end, or after this many characters without one.",
    )
    stream_check_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Longest a mid-stream policy check may take; past it the stream ends with an `error` event "
        "(`screen_timeout`), never with unscreened text.",
    )


class ValidatorUserConfig(ValidationLimits):
    """`user_config` of the Validator deployment: the input limits, and how many images a replica decodes
    at once (the offline job decodes one row at a time, so its `validation` has no such field)."""

    max_concurrent_decodes: int | None = Field(
        None,
        ge=1,
        description="Most images one Validator replica decodes at once; requests beyond wait their turn. Decoding "
        "is CPU work: more threads than CPUs only multiply the decoded copies in memory. null: the CPUs the "
        "replica was given (`ray_actor_options.num_cpus`, rounded up).",
    )


class ImageScreenUserConfig(StrictConfig):
    """`user_config` of the ImageScreen deployment: its capacity. What it reads and how is the PolicyFilter's
    `layers.image.read`, sent with every call (one source of truth for the service and the offline job)."""

    readers: int = Field(
        1,
        ge=1,
        le=16,
        description="Images one replica reads at once, each with its own models (~60 MB) and ONNX threads; "
        "about the replica's `num_cpus` (one thread per reader).",
    )
    warmup: bool = Field(
        True, description="Load the models for the default read settings at start, not on the first request."
    )


class AppArgs(StrictConfig):
    """`args` of the application in configs/*.yaml."""

    engine: EngineConfig = Field(default_factory=EngineConfig, description="Model loading and generation.")
    policy: PolicyUserConfig = Field(default_factory=PolicyUserConfig, description="Initial policy settings.")
    validation: ValidatorUserConfig = Field(default_factory=ValidatorUserConfig, description="Initial input limits.")
    batching: BatchingConfig = Field(default_factory=BatchingConfig, description="Initial batching settings.")
    ingress: IngressUserConfig = Field(default_factory=IngressUserConfig, description="Initial HTTP settings.")
    image_screen: ImageScreenUserConfig = Field(
        default_factory=ImageScreenUserConfig, description="Initial ImageScreen settings."
    )
    audit: AuditConfig | None = Field(
        default_factory=AuditConfig,
        description="Durable log of every moderation decision; null disables it. Whether the text itself is "
        "kept is the policy's `audit_keep_content` (this config's `keep_content` is overridden).",
    )
    cache: CacheConfig = Field(
        default_factory=CacheConfig,
        description="Exact-match cache of deterministic chat completions (greedy or seeded): memory LRU or Redis.",
    )
    moderation_model_name: str = Field(
        "qwen-vl-serve-policy", min_length=1, description="`model` reported by `/v1/moderations`."
    )


# Each deployment of the application and the typed model of its `user_config` (what `reconfigure`
# validates; the launcher's preflight and the config reference use the same table).
DEPLOYMENT_USER_CONFIGS: dict[str, type[BaseModel]] = {
    "Ingress": IngressUserConfig,
    "Validator": ValidatorUserConfig,
    "VLM": BatchingConfig,
    "PolicyFilter": PolicyUserConfig,
    "ImageScreen": ImageScreenUserConfig,
}
