"""HTTP only: routes, request ids, API keys, bounded body reading. Logic lives in serving.py."""

import asyncio
import contextlib
import hmac
import json
import logging
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pydantic
import pydantic.json_schema
from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, StreamingResponse
from ray import serve
from ray.serve.handle import DeploymentHandle

from pipelines.cache import CacheConfig, build_cache
from pipelines.core.errors import (
    AuthenticationError,
    DeadlineExceededError,
    InvalidRequestError,
    PayloadTooLargeError,
    ShuttingDownError,
)
from pipelines.core.paths import resolve_path
from serve_app.api.errors import install_error_handlers, shed_load, to_error_response
from serve_app.api.protocol import (
    AuditDecisionPage,
    ChatCompletionRequest,
    DecisionQuery,
    HealthStatus,
    LegacyGenerateRequest,
    ModelCard,
    ModelList,
    ModerationRequest,
)
from serve_app.config import IngressUserConfig
from serve_app.metrics import IngressMetrics
from serve_app.serving.chat import ChatService, new_request_id
from serve_app.version import APP_VERSION

logger = logging.getLogger("ray.serve")

BATCH_SIZE_HEADER = "x-batch-size"
CACHE_HEADER = "x-cache"
VERSION_HEADER = "x-qvs-version"
REQUEST_ID_HEADER = "x-request-id"
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
_PUBLIC_PATHS = {"/healthz", "/readyz"}
READY_TIMEOUT_S = 2.0
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}  # proxies must not buffer the stream

app = FastAPI(title="qwen-vl-serve", version=APP_VERSION)
install_error_handlers(app)

# Bodies are read by hand (size-limited streaming, then validated), so FastAPI cannot see their
# schemas: declare them in the OpenAPI document for clients and for schemathesis.
_REQUEST_BODIES: dict[tuple[str, str], type[pydantic.BaseModel]] = {
    ("/v1/chat/completions", "post"): ChatCompletionRequest,
    ("/v1/moderations", "post"): ModerationRequest,
}


def _openapi() -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        _, definitions = pydantic.json_schema.models_json_schema(
            [(model, "validation") for model in _REQUEST_BODIES.values()],
            ref_template="#/components/schemas/{model}",
        )
        schema.setdefault("components", {}).setdefault("schemas", {}).update(definitions.get("$defs", {}))
        for (path, method), model in _REQUEST_BODIES.items():
            schema["paths"][path][method]["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
            }
        app.openapi_schema = schema
    return app.openapi_schema


app.openapi = _openapi  # type: ignore[method-assign]


@app.middleware("http")
async def request_context(request: Request, call_next: Any) -> Response:
    """Give every request an id and echo it on every response.

    Under Serve the proxy already assigns one (the client's ``x-request-id`` if sent) and adds the
    header to the response, and replica logs carry it: use that id so logs, header and error
    bodies agree. Outside Serve (in-process tests) take a well-formed client id or make one.
    """
    serve_id = serve_request_id()
    supplied = request.headers.get(REQUEST_ID_HEADER, "")
    request.state.request_id = serve_id or (supplied if _CLIENT_REQUEST_ID.match(supplied) else new_request_id())
    try:
        response = await call_next(request)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: nothing leaks
        response = to_error_response(exc, request.state.request_id)
    if not serve_id:
        response.headers[REQUEST_ID_HEADER] = request.state.request_id
    return response


def serve_request_id() -> str | None:
    from ray.serve.context import _get_serve_request_context

    return _get_serve_request_context().request_id or None


async def read_json_body(request: Request, limit: int) -> Any:
    """Parse the JSON body, refusing it as soon as it exceeds ``limit`` bytes.

    A declared ``Content-Length`` over the limit is refused before reading anything; a body
    that lies about its length, or is chunked, is cut off at the limit while streaming.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"Request body exceeds {limit} bytes.", code="body_too_large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"Request body exceeds {limit} bytes.", code="body_too_large")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidRequestError("Request body is not valid JSON.", code="invalid_json") from exc


def load_api_keys(settings: IngressUserConfig) -> list[bytes]:
    keys: list[str] = []
    if settings.api_key_env:
        keys += os.environ.get(settings.api_key_env, "").split(",")
    if settings.api_key_file:
        keys += Path(resolve_path(settings.api_key_file)).read_text().splitlines()
    return [k.strip().encode() for k in keys if k.strip()]


@serve.deployment(name="Ingress")
@serve.ingress(app)
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
        response_cache = build_cache(CacheConfig.model_validate(cache or {"enabled": False}))
        self.service = ChatService(validator, vlm, policy, model_name, moderation_model, model_version, response_cache)
        self.metrics = IngressMetrics()
        self.created = int(time.time())
        self.settings = IngressUserConfig()
        self.api_keys: list[bytes] = []

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        self.settings = IngressUserConfig.model_validate(user_config)
        self.api_keys = load_api_keys(self.settings)
        self.service.configure(self.settings.request_deadline_s, self.settings.stream_hold_back_chars)
        logger.info("ingress configured; API keys required: %s", bool(self.api_keys))

    def authenticate(self, request: Request) -> None:
        """Admit a new request: not while draining; then a constant-time comparison against every
        configured key (never logged)."""
        if self.settings.draining:
            raise ShuttingDownError("The service is shutting down; retry on another replica or later.")
        if not self.api_keys or request.url.path in _PUBLIC_PATHS:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        presented = token.strip().encode() if scheme.lower() == "bearer" else b""
        matched = False
        for key in self.api_keys:
            matched |= hmac.compare_digest(presented, key)
        if not matched:
            raise AuthenticationError("Invalid or missing API key.")

    @app.post("/v1/chat/completions")
    async def chat_completions(self, request: Request) -> Response:
        self.authenticate(request)
        request_id = request.state.request_id
        payload = await read_json_body(request, self.settings.max_body_bytes)
        if not isinstance(payload, dict):
            raise InvalidRequestError("Request body must be a JSON object.", code="invalid_json")
        if "messages" in payload or "prompt" not in payload:
            body = pydantic.TypeAdapter(ChatCompletionRequest).validate_python(payload)
            if body.unknown_fields():
                logger.info("request %s: ignoring unknown fields %s", request_id, body.unknown_fields())
            if body.stream:
                async with shed_load():
                    events = await self.service.chat_stream(body, request_id)
                headers = {**_SSE_HEADERS, **self.version_header(None)}
                return StreamingResponse(events, media_type="text/event-stream", headers=headers)
            async with shed_load(), self.deadline():
                outcome = await self.service.chat(body, request_id)
            self.metrics.cache.inc(tags={"result": outcome.cache})
            headers = {BATCH_SIZE_HEADER: str(outcome.batch_size), CACHE_HEADER: outcome.cache}
            headers |= self.version_header(outcome.response.policy_version)
            return JSONResponse(outcome.response.model_dump(), headers=headers)
        else:
            legacy = pydantic.TypeAdapter(LegacyGenerateRequest).validate_python(payload)
            async with shed_load(), self.deadline():
                response, batch_size = await self.service.legacy(legacy, request_id)
        headers = {
            BATCH_SIZE_HEADER: str(batch_size),
            **self.version_header(response.moderation["input"].policy_version),
        }
        return JSONResponse(response.model_dump(), headers=headers)

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
        model_version = self.service.model_version
        parts = [f"model={model_version}"] if model_version else []
        if policy_version:
            parts.append(f"policy={policy_version}")
        parts.append(f"app={APP_VERSION}")
        return {VERSION_HEADER: "; ".join(parts)}

    @app.post("/v1/moderations")
    async def moderations(self, request: Request) -> JSONResponse:
        self.authenticate(request)
        payload = await read_json_body(request, self.settings.max_body_bytes)
        if not isinstance(payload, dict):
            raise InvalidRequestError("Request body must be a JSON object.", code="invalid_json")
        body = pydantic.TypeAdapter(ModerationRequest).validate_python(payload)
        async with shed_load(), self.deadline():
            response = await self.service.moderations(body, request.state.request_id)
        headers = self.version_header(response.results[0].policy_version if response.results else None)
        return JSONResponse(response.model_dump(), headers=headers)

    @app.get("/v1/moderation/decisions")
    async def decisions(self, request: Request) -> AuditDecisionPage:
        """The audit log for dashboards, newest first; filters and paging in the query string."""
        self.authenticate(request)
        query = DecisionQuery.model_validate(dict(request.query_params))
        async with shed_load():
            records, next_cursor = await self.service.policy.decisions.remote(query.model_dump())
        return AuditDecisionPage(data=records, next_cursor=next_cursor)

    @app.get("/v1/models")
    async def models(self, request: Request) -> ModelList:
        self.authenticate(request)
        async with shed_load():
            info, policy_version = await asyncio.gather(
                self.service.vlm.model_info.remote(), self.service.policy.policy_version.remote()
            )
        card = ModelCard(
            id=self.service.model_name,
            created=self.created,
            source=info["model"],
            revision=info["revision"],
            quantization=info["quantization"],
            version=info["version"],
            policy_version=policy_version,
            app_version=APP_VERSION,
        )
        return ModelList(data=[card])

    @app.get("/healthz")
    async def healthz(self) -> HealthStatus:
        """Liveness: the ingress answers. Says nothing about the model."""
        return HealthStatus(status="ok")

    @app.get("/readyz")
    async def readyz(self) -> JSONResponse:
        """Readiness: the model has loaded and warmed up, the policy is loaded, and the audit store is
        healthy (it only gates readiness in `fail_closed` mode; in `fail_open` it is reported)."""
        if self.settings.draining:
            return JSONResponse(HealthStatus(status="draining").model_dump(), status_code=503)
        checks = {"model": False, "policy": False, "audit": False}
        audit_gates = True
        try:
            service = self.service
            info, policy = await asyncio.wait_for(
                asyncio.gather(service.vlm.model_info.remote(), service.policy.health.remote()), READY_TIMEOUT_S
            )
            checks = {"model": bool(info["ready"]), "policy": bool(policy["policy_version"])}
            checks["audit"] = bool(policy["audit"]["ok"])
            audit_gates = policy["audit_fail_mode"] == "fail_closed"
        except Exception:
            logger.info("readiness check failed", exc_info=True)
        ready = checks["model"] and checks["policy"] and (checks["audit"] or not audit_gates)
        status = HealthStatus(status="ok" if ready else "not_ready", checks=checks)
        return JSONResponse(status.model_dump(), status_code=200 if ready else 503)
