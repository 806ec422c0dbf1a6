"""Example: compose the running service's deployments into a different pipeline.

``POST /caption`` with ``{"image": "data:image/...;base64,..."}`` validates the image with the
service's Validator, screens it with its PolicyFilter (OCR, QR codes, NSFW: audited like any input;
a blocked image never reaches the model), asks its VLM for a one-sentence caption, screens the
caption (audited like any output) and returns the caption as the policy allows it. The handles are
looked up by application and deployment name, so this app runs beside the service (a second
application in the same Serve config, see README "Composing") and its requests batch together with
the service's own traffic.

It stands behind the same protections as the service's Ingress, from the same code: API keys
(its ``user_config`` takes the Ingress's settings: ``api_key_env`` / ``api_key_file``, refusing to
start when a named source is empty), a body limit enforced while reading, a deadline over the whole
request, request ids, and the OpenAI-style error bodies.
"""

# No `from __future__ import annotations`: serve.ingress needs the real types at import time.
import asyncio
import uuid
from typing import Any, Self

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field
from ray import serve
from ray.serve import Application
from ray.serve.handle import DeploymentHandle

from pipelines.core.errors import DeadlineExceededError
from pipelines.core.types import GenerationRequest, Message, SamplingParams, TextPart
from pipelines.moderation.policy.engine import PolicyDecision
from serve_app.api.auth import ApiKeys, load_api_keys, require_key
from serve_app.api.errors import install_error_handlers
from serve_app.api.http import install_request_context, read_json_object
from serve_app.config import IngressUserConfig
from serve_app.deployments.clients import PolicyClient, ValidatorClient, VLMClient

CAPTION_PROMPT = "Write a one-sentence caption for this product photo."

app = FastAPI(title="caption-and-moderate example")
install_error_handlers(app)
install_request_context(app)


class CaptionRequest(BaseModel):
    image: str = Field(description="A data URL (or bare Base64) image, validated by the service's Validator.")
    max_tokens: int = Field(32, ge=1, le=256)


class CaptionResponse(BaseModel):
    caption: str = Field(description="The caption as the policy allows it (redacted or replaced if needed).")
    action: str
    categories: list[str]
    policy_version: str
    request_id: str

    @classmethod
    def of(cls, decision: PolicyDecision, request_id: str) -> Self:
        """The screened text of ``decision`` (the input's when it was blocked, else the caption's)."""
        return cls(
            caption=decision.text,
            action=decision.action,
            categories=decision.fired,
            policy_version=decision.policy_version,
            request_id=request_id,
        )


@serve.deployment(name="CaptionModerate", ray_actor_options={"num_cpus": 0.05})
@serve.ingress(app)
class CaptionModerate:
    def __init__(self, target_app: str) -> None:
        self.target_app = target_app
        self.handles: dict[str, DeploymentHandle] = {}
        self.settings = IngressUserConfig()
        self.keys = ApiKeys()

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        self.settings = IngressUserConfig.model_validate(user_config)
        self.keys = load_api_keys(self.settings)

    def handle(self, deployment: str) -> DeploymentHandle:
        """Looked up on first use: the two applications start in either order."""
        if deployment not in self.handles:
            self.handles[deployment] = serve.get_deployment_handle(deployment, app_name=self.target_app)
        return self.handles[deployment]

    @app.post("/caption")
    async def caption(self, request: Request) -> CaptionResponse:
        require_key(request, self.keys)
        body = CaptionRequest.model_validate(await read_json_object(request, self.settings.max_body_bytes))
        try:
            async with asyncio.timeout(self.settings.request_deadline_s):
                return await self._caption(body, f"caption-{uuid.uuid4().hex}")
        except TimeoutError:
            raise DeadlineExceededError("The request did not finish before its deadline.") from None

    async def _caption(self, body: CaptionRequest, request_id: str) -> CaptionResponse:
        validator = ValidatorClient(self.handle("Validator"))
        vlm, policy = VLMClient(self.handle("VLM")), PolicyClient(self.handle("PolicyFilter"))
        parts = [{"type": "image_url", "image_url": {"url": body.image}}]
        (item,) = await validator.validate_moderation(value=parts, request_id=request_id)
        screened = await policy.check_input(
            text="", request_id=request_id, images=[part.image for part in item.images], image_sources=[body.image]
        )
        if screened.blocked:  # the image never reaches the model
            return CaptionResponse.of(screened, request_id)
        request = GenerationRequest(
            request_id,
            [Message("user", [*item.images, TextPart(CAPTION_PROMPT)])],
            SamplingParams(max_tokens=body.max_tokens),
        )
        result = await vlm.generate(request=request)
        decision = await policy.check_output(text=result.text, request_id=request_id, prompt=CAPTION_PROMPT)
        return CaptionResponse.of(decision, request_id)


def build_app(args: dict[str, Any] | None = None) -> Application:
    """``args.target_app``: the name of the qwen-vl-serve application to compose (default qwen-vl)."""
    return CaptionModerate.bind((args or {}).get("target_app", "qwen-vl"))
