"""``/v1/moderations`` and the audit-log query: each input screened as an input would be before the
model (same policy, same audit), and for dashboards the decisions read back, their counts per time
bucket and the loaded policy."""

from __future__ import annotations

import asyncio
from typing import Any

from serve_app.api.protocol import ModerationRequest, ModerationResponse, ModerationStats, PolicyInfo
from serve_app.serving.backends import Policy, Validation
from serve_app.serving.decisions import moderation_result
from serve_app.serving.image_sources import part_sources


class ModerationService:
    def __init__(self, validator: Validation, policy: Policy, model_name: str) -> None:
        self.validator = validator
        self.policy = policy
        self.model_name = model_name

    async def moderations(self, body: ModerationRequest, request_id: str) -> ModerationResponse:
        items = await self.validator.validate_moderation(value=body.input, request_id=request_id)
        sources = part_sources(body.input)  # only a list of parts has images: it is one item
        decisions = await asyncio.gather(
            *(
                self.policy.check_input(
                    text=item.text,
                    request_id=request_id,
                    images=[p.image for p in item.images],
                    image_sources=sources,
                )
                if item.images
                else self.policy.check_input(text=item.text, request_id=request_id)
                for item in items
            )
        )
        results = [
            moderation_result(decision, has_text=bool(item.text), has_image=bool(item.images))
            for item, decision in zip(items, decisions, strict=True)
        ]
        return ModerationResponse(id=f"modr-{request_id}", model=body.model or self.model_name, results=results)

    async def decisions(self, query: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        return await self.policy.decisions(query=query)

    async def stats(self, query: dict[str, Any]) -> ModerationStats:
        return await self.policy.stats(query=query)

    async def describe_policy(self) -> PolicyInfo:
        return await self.policy.describe_policy()
