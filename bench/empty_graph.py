"""The framework's floor: the same Serve hops as the real graph, with deployments that do nothing.

Ingress -> Validator -> PolicyFilter (input) -> VLM -> PolicyFilter (output), each a handle call,
returning a fixed tiny answer. ``bench.cpu_graph`` serves it beside the real app in the same run
(route prefix ``/empty``) so the two are measured on the same cluster at the same time.
"""

# No `from __future__ import annotations`: serve.ingress rewrites the route signatures and FastAPI
# must see real types (a string annotation on `request` makes it a required query parameter).
from typing import Any

from fastapi import FastAPI, Request
from ray import serve
from ray.serve import Application
from ray.serve.handle import DeploymentHandle

app = FastAPI()


@serve.deployment(name="EmptyValidator")
class EmptyValidator:
    def validate_chat(self, body: dict[str, Any]) -> dict[str, Any]:
        return body


@serve.deployment(name="EmptyPolicy")
class EmptyPolicy:
    def check(self, text: str) -> str:
        return text


@serve.deployment(name="EmptyVLM")
class EmptyVLM:
    def generate(self, request: dict[str, Any]) -> str:
        return "ok"


@serve.deployment(name="EmptyIngress")
@serve.ingress(app)
class EmptyIngress:
    def __init__(self, validator: DeploymentHandle, policy: DeploymentHandle, vlm: DeploymentHandle) -> None:
        self.validator = validator
        self.policy = policy
        self.vlm = vlm

    @app.post("/v1/chat/completions")
    async def chat(self, request: Request) -> dict[str, Any]:
        body = await request.json()
        validated = await self.validator.validate_chat.remote(body)
        await self.policy.check.remote("input")
        text = await self.vlm.generate.remote(validated)
        await self.policy.check.remote(text)
        return {"choices": [{"message": {"content": text}}]}


def build_app(args: dict[str, Any] | None = None) -> Application:
    return EmptyIngress.bind(EmptyValidator.bind(), EmptyPolicy.bind(), EmptyVLM.bind())
