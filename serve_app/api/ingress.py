"""The Ingress deployment: the HTTP entry of the graph. It wraps the other deployments' handles in their
typed clients, keeps a :class:`Gateway`, and serves ``create_app(gateway)`` (serve_app/api/routes.py).

The app is built per replica (``__serve_build_asgi_app__``), not at import: its routes close over this
replica's gateway, so the same routes run in-process in tests with fakes of the backends.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from ray import serve
from ray.serve.handle import DeploymentHandle

from pipelines.cache import CacheConfig, build_cache
from serve_app.api.gateway import Gateway
from serve_app.api.routes import create_app
from serve_app.config import IngressUserConfig
from serve_app.deployments.clients import PolicyClient, ValidatorClient, VLMClient


@serve.deployment(name="Ingress")
@serve.ingress()
class Ingress:
    def __init__(
        self,
        validator: DeploymentHandle,
        vlm: DeploymentHandle,
        policy: DeploymentHandle,
        model_name: str,
        moderation_model: str,
        model_version: str = "",
        cache: dict[str, Any] | None = None,
    ) -> None:
        self.gateway = Gateway(
            validator=ValidatorClient(validator),
            model=VLMClient(vlm),
            policy=PolicyClient(policy),
            model_name=model_name,
            moderation_model=moderation_model,
            model_version=model_version,
            cache=build_cache(CacheConfig.model_validate(cache or {"enabled": False})),
        )

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        self.gateway.configure(IngressUserConfig.model_validate(user_config))

    def __serve_build_asgi_app__(self) -> FastAPI:
        return create_app(self.gateway)
