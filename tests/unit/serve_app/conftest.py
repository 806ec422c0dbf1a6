"""Fixtures for in-process tests of the serving layer and the HTTP routes (no Ray cluster)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from serve_app.api.gateway import Gateway
from serve_app.api.routes import create_app
from serve_app.config import IngressUserConfig
from tests.unit.serve_app.fakes import FakeModel, FakePolicy, FakeValidator

MODEL_NAME = "qwen3-vl-test"


@pytest.fixture
def model() -> FakeModel:
    return FakeModel()


@pytest.fixture(scope="session")
def policy_backend() -> FakePolicy:
    return FakePolicy()


@pytest.fixture
def gateway(model: FakeModel, policy_backend: FakePolicy) -> Callable[..., Gateway]:
    def build(**settings: object) -> Gateway:
        gw = Gateway(
            validator=FakeValidator(),
            model=model,
            policy=policy_backend,
            model_name=MODEL_NAME,
            moderation_model="policy-test",
            model_version="fake@1",
        )
        gw.configure(IngressUserConfig.model_validate(settings))
        return gw

    return build


@pytest.fixture
def http(gateway: Callable[..., Gateway]) -> Callable[..., httpx.AsyncClient]:
    """An httpx client speaking to ``create_app(gateway(**settings))`` in process."""

    def build(**settings: object) -> httpx.AsyncClient:
        app = create_app(gateway(**settings))
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")

    return build
