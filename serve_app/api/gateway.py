"""What the HTTP routes stand on in one replica: the serving services, the run-time settings, the keys.

The Serve deployment (serve_app/api/ingress.py) builds one from its handles; in-process tests build
one from fakes of the backends and drive ``create_app(gateway)`` over httpx's ASGI transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from fastapi import Request

from pipelines.cache import ResponseCache
from pipelines.core.errors import DeadlineExceededError, ShuttingDownError
from serve_app.api.auth import ApiKeys, load_api_keys, require_key
from serve_app.config import IngressUserConfig
from serve_app.metrics import IngressMetrics
from serve_app.serving.backends import Model, Policy, Validation
from serve_app.serving.chat import ChatService
from serve_app.serving.health import HealthService
from serve_app.serving.moderations import ModerationService
from serve_app.serving.streaming import StreamLimits
from serve_app.version import APP_VERSION

logger = logging.getLogger("ray.serve")

VERSION_HEADER = "x-qvs-version"
READY_TIMEOUT_S = 2.0


class Gateway:
    def __init__(
        self,
        *,
        validator: Validation,
        model: Model,
        policy: Policy,
        model_name: str,
        moderation_model: str,
        model_version: str = "",
        cache: ResponseCache | None = None,
        metrics: IngressMetrics | None = None,
    ) -> None:
        self.model = model
        self.policy = policy
        self.chat = ChatService(validator, model, policy, model_name, model_version, cache)
        self.moderation = ModerationService(validator, policy, moderation_model)
        self.health = HealthService(model, policy, READY_TIMEOUT_S)
        self.metrics = metrics if metrics is not None else IngressMetrics()
        self.created = int(time.time())
        self.settings = IngressUserConfig()
        self.api_keys = ApiKeys()

    @property
    def model_name(self) -> str:
        return self.chat.model_name

    def configure(self, settings: IngressUserConfig) -> None:
        self.settings = settings
        self.api_keys = load_api_keys(settings)
        self.chat.configure(settings.request_deadline_s, StreamLimits.of(settings))
        logger.info(
            "ingress configured; API keys required: %s (%d caller, %d admin)",
            self.api_keys.required,
            len(self.api_keys.callers),
            len(self.api_keys.admins),
        )

    def admit(self, request: Request, *, admin: bool = False) -> None:
        """A new request: refused while draining, then its API key checked (if keys are configured);
        ``admin``: the route reads other requests' data and needs an admin key."""
        if self.settings.draining:
            raise ShuttingDownError("The service is shutting down; retry on another replica or later.")
        require_key(request, self.api_keys, admin=admin)

    @contextlib.asynccontextmanager
    async def deadline(self) -> AsyncIterator[None]:
        """The whole request, queues at every hop included, within ``request_deadline_s`` (504).
        Leaving cancels the downstream calls, so their replicas stop working on it."""
        try:
            async with asyncio.timeout(self.settings.request_deadline_s):
                yield
        except TimeoutError:
            raise DeadlineExceededError("The request did not finish before its deadline.") from None

    def version_header(self, policy_version: str | None) -> dict[str, str]:
        """What answered: the model version, the policy version that decided, and this app's version."""
        model_version = self.chat.model_version
        parts = [f"model={model_version}"] if model_version else []
        if policy_version:
            parts.append(f"policy={policy_version}")
        parts.append(f"app={APP_VERSION}")
        return {VERSION_HEADER: "; ".join(parts)}
