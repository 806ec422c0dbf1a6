"""The application builder that ``configs/*.yaml`` point at (``serve_app.app:build_app``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ray.serve import Application

from pipelines.core.paths import resolve_path
from serve_app.api.ingress import Ingress
from serve_app.config import AppArgs
from serve_app.deployments.image_screen import ImageScreenDeployment
from serve_app.deployments.policy_filter import PolicyFilterDeployment
from serve_app.deployments.validator import ValidatorDeployment
from serve_app.deployments.vlm import VLMDeployment


def _resolve_model(model: str) -> str:
    """A model that names an existing local directory loads from its absolute path; else it is a Hub id."""
    local = Path(resolve_path(model))
    return str(local) if local.is_dir() else model


def build_app(args: dict[str, Any] | AppArgs | None = None) -> Application:
    """Validate ``args`` into ``AppArgs`` and bind the deployment graph.

    The ``user_config`` set here are the defaults from ``args``; a config file's per-deployment
    ``user_config`` overrides them and can change them at run time.
    """
    config = args if isinstance(args, AppArgs) else AppArgs.model_validate(args or {})
    engine = config.engine.model_copy(
        update={"model": _resolve_model(config.engine.model), "served_model_name": config.engine.name}
    )
    policy = config.policy.model_copy(update={"policy_file": resolve_path(config.policy.policy_file)})
    validator = ValidatorDeployment.options(user_config=config.validation.model_dump()).bind()
    vlm = VLMDeployment.options(user_config=config.batching.model_dump()).bind(engine.model_dump())
    audit = config.audit.resolved(resolve_path).model_dump() if config.audit else None
    image_screen = ImageScreenDeployment.options(user_config=config.image_screen.model_dump()).bind()
    policy_filter = PolicyFilterDeployment.options(user_config=policy.model_dump()).bind(
        audit, engine.version, vlm, image_screen
    )
    return Ingress.options(user_config=config.ingress.model_dump()).bind(
        validator,
        vlm,
        policy_filter,
        engine.name,
        config.moderation_model_name,
        engine.version,
        config.cache.model_dump(),
    )
