"""The HTTP routes, on a FastAPI app built around one :class:`Gateway` (``create_app``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pydantic
import pydantic.json_schema
from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from serve_app.api.auth import require_key
from serve_app.api.console import console_router
from serve_app.api.errors import install_error_handlers, shed_load
from serve_app.api.gateway import Gateway
from serve_app.api.http import install_request_context, read_json_object
from serve_app.api.protocol import (
    AuditDecisionPage,
    ChatCompletionRequest,
    DecisionQuery,
    HealthStatus,
    LegacyGenerateRequest,
    ModelCard,
    ModelList,
    ModerationRequest,
    ModerationStats,
    PolicyInfo,
    StatsQuery,
)
from serve_app.version import APP_VERSION

logger = logging.getLogger("ray.serve")

BATCH_SIZE_HEADER = "x-batch-size"
CACHE_HEADER = "x-cache"
OPENAPI_URL = "/openapi.json"
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}  # proxies must not buffer the stream

# Bodies are read by hand (size-limited streaming, then validated), so FastAPI cannot see their
# schemas: declare them in the OpenAPI document for clients and for schemathesis.
REQUEST_BODIES: dict[tuple[str, str], type[pydantic.BaseModel]] = {
    ("/v1/chat/completions", "post"): ChatCompletionRequest,
    ("/v1/moderations", "post"): ModerationRequest,
}


def create_app(gateway: Gateway) -> FastAPI:
    # FastAPI's own documentation routes cannot check a key: they are replaced by the ones below.
    app = FastAPI(title="qwen-vl-serve", version=APP_VERSION, docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(app)
    install_request_context(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    _install_docs(app, gateway)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        gateway.admit(request)
        request_id = request.state.request_id
        payload = await read_json_object(request, gateway.settings.max_body_bytes)
        if "messages" not in payload and "prompt" in payload:
            return await _legacy(gateway, payload, request_id)
        body = pydantic.TypeAdapter(ChatCompletionRequest).validate_python(payload)
        if ignored := body.unknown_fields():
            logger.info("request %s: ignoring unknown fields %s", request_id, ", ".join(ignored))
        if body.stream:
            async with shed_load():
                events = await gateway.chat.chat_stream(body, request_id)
            headers = {**SSE_HEADERS, **gateway.version_header(None)}
            return StreamingResponse(events, media_type="text/event-stream", headers=headers)
        async with shed_load(), gateway.deadline():
            outcome = await gateway.chat.chat(body, request_id)
        gateway.metrics.cache.inc(tags={"result": outcome.cache})
        headers = {BATCH_SIZE_HEADER: str(outcome.batch_size), CACHE_HEADER: outcome.cache}
        headers |= gateway.version_header(outcome.response.policy_version)
        return JSONResponse(outcome.response.model_dump(), headers=headers)

    @app.post("/v1/moderations")
    async def moderations(request: Request) -> JSONResponse:
        gateway.admit(request)
        payload = await read_json_object(request, gateway.settings.max_body_bytes)
        body = pydantic.TypeAdapter(ModerationRequest).validate_python(payload)
        async with shed_load(), gateway.deadline():
            response = await gateway.moderation.moderations(body, request.state.request_id)
        headers = gateway.version_header(response.results[0].policy_version if response.results else None)
        return JSONResponse(response.model_dump(), headers=headers)

    @app.get("/v1/moderation/decisions")
    async def decisions(request: Request) -> AuditDecisionPage:
        """The audit log for dashboards, newest first; filters and paging in the query string (admin keys)."""
        gateway.admit(request, admin=True)
        query = DecisionQuery.model_validate(dict(request.query_params))
        async with shed_load():
            records, next_cursor = await gateway.moderation.decisions(query.model_dump())
        return AuditDecisionPage(data=records, next_cursor=next_cursor)

    @app.get("/v1/moderation/stats")
    async def stats(request: Request) -> ModerationStats:
        """Decisions per time bucket by direction, action and category, counted by the database (admin keys)."""
        gateway.admit(request, admin=True)
        query = StatsQuery.model_validate(dict(request.query_params))
        async with shed_load():
            return await gateway.moderation.stats(query.model_dump())

    @app.get("/v1/moderation/policy")
    async def policy(request: Request) -> PolicyInfo:
        """The loaded policy, read only: version, digest, categories with their actions, layers (admin keys)."""
        gateway.admit(request, admin=True)
        async with shed_load():
            return await gateway.moderation.describe_policy()

    @app.get("/v1/models")
    async def models(request: Request) -> ModelList:
        gateway.admit(request)
        async with shed_load():
            info, policy_version = await asyncio.gather(gateway.model.model_info(), gateway.policy.policy_version())
        card = ModelCard(
            id=gateway.model_name,
            created=gateway.created,
            source=info["model"],
            revision=info["revision"],
            quantization=info["quantization"],
            version=info["version"],
            policy_version=policy_version,
            app_version=APP_VERSION,
        )
        return ModelList(data=[card])

    @app.get("/healthz")
    async def healthz() -> HealthStatus:
        """Liveness: the ingress answers. Says nothing about the model."""
        return HealthStatus(status="ok")

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """Readiness: the model has loaded and warmed up, the policy is loaded, and the audit store is
        healthy (it only gates readiness in `fail_closed` mode; in `fail_open` it is reported)."""
        if gateway.settings.draining:
            return JSONResponse(HealthStatus(status="draining").model_dump(), status_code=503)
        readiness = await gateway.health.readiness()
        status = HealthStatus(status="ok" if readiness.ready else "not_ready", checks=readiness.checks)
        return JSONResponse(status.model_dump(), status_code=200 if readiness.ready else 503)

    app.include_router(console_router())
    return app


async def _legacy(gateway: Gateway, payload: dict[str, Any], request_id: str) -> JSONResponse:
    """The original design's ``{"image", "prompt", "max_tokens"}`` body, at the chat path."""
    legacy = pydantic.TypeAdapter(LegacyGenerateRequest).validate_python(payload)
    async with shed_load(), gateway.deadline():
        response, batch_size = await gateway.chat.legacy(legacy, request_id)
    headers = {
        BATCH_SIZE_HEADER: str(batch_size),
        **gateway.version_header(response.moderation["input"].policy_version),
    }
    return JSONResponse(response.model_dump(), headers=headers)


def _install_docs(app: FastAPI, gateway: Gateway) -> None:
    """``/openapi.json``, ``/docs`` and ``/redoc``: open without keys, else for any caller or admin key
    (the document maps every route and parameter; an attacker's map is not ours to hand out). A browser
    sends no ``Authorization`` header, so with keys the two pages need a header-adding tool or proxy."""

    @app.get(OPENAPI_URL, include_in_schema=False)
    async def openapi_document(request: Request) -> JSONResponse:
        require_key(request, gateway.api_keys)
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        require_key(request, gateway.api_keys)
        return get_swagger_ui_html(openapi_url=OPENAPI_URL, title=f"{app.title} - Swagger UI")

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        require_key(request, gateway.api_keys)
        return get_redoc_html(openapi_url=OPENAPI_URL, title=f"{app.title} - ReDoc")


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        _, definitions = pydantic.json_schema.models_json_schema(
            [(model, "validation") for model in REQUEST_BODIES.values()],
            ref_template="#/components/schemas/{model}",
        )
        schema.setdefault("components", {}).setdefault("schemas", {}).update(definitions.get("$defs", {}))
        for (path, method), model in REQUEST_BODIES.items():
            schema["paths"][path][method]["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
            }
        app.openapi_schema = schema
    return app.openapi_schema
