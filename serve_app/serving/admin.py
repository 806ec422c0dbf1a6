"""What the admin routes show, in the API's shapes: the audit stats and the loaded policy.

One definition for the PolicyFilter deployment and the in-process fakes of the tests.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from pipelines.audit import AuditConfig
from pipelines.audit.stats import AuditStats, StatsRangeError, StatsWindow
from pipelines.core.errors import InvalidRequestError
from pipelines.moderation.policy.config import Policy
from pipelines.moderation.text.layers import LayersConfig
from serve_app.api.protocol import (
    CategoryCountOut,
    DecisionCountOut,
    ModerationStats,
    PolicyCategoryOut,
    PolicyInfo,
    PolicyLayersOut,
    StatsTotalsOut,
)


def stats_window(query: dict[str, Any], config: AuditConfig, now: datetime) -> StatsWindow:
    """The range of a ``StatsQuery`` within the audit config's limits; a refused one is a 400 naming its parameter."""
    try:
        return StatsWindow.plan(
            since=query.get("since"),
            until=query.get("until"),
            bucket=query["bucket"],
            max_buckets=config.max_stats_buckets,
            default_window_s=config.stats_window_s,
            now=now,
        )
    except StatsRangeError as exc:
        raise InvalidRequestError(str(exc), param=exc.param, code=exc.code) from None


def stats_response(stats: AuditStats, bucket: str) -> ModerationStats:
    """The grouped rows as they came from the database; the totals are sums of those rows."""
    by_action: Counter[str] = Counter()
    by_direction: Counter[str] = Counter()
    for row in stats.decisions:
        by_action[row.action] += row.count
        by_direction[row.direction] += row.count
    by_category: Counter[str] = Counter()
    without_category = 0
    for row in stats.categories:
        if row.category is None:
            without_category += row.count
        else:
            by_category[row.category] += row.count
    window = stats.window
    return ModerationStats(
        bucket=bucket,
        bucket_seconds=window.bucket_s,
        since=window.since,
        until=window.until,
        buckets=window.starts(),
        decisions=[
            DecisionCountOut(start=r.start, direction=r.direction, action=r.action, count=r.count)
            for r in stats.decisions
        ],
        series=[
            CategoryCountOut(start=r.start, direction=r.direction, action=r.action, category=r.category, count=r.count)
            for r in stats.categories
        ],
        totals=StatsTotalsOut(
            decisions=sum(by_action.values()),
            by_action=dict(sorted(by_action.items())),
            by_direction=dict(sorted(by_direction.items())),
            by_category=dict(sorted(by_category.items())),
            without_category=without_category,
        ),
    )


def describe_policy(policy: Policy, layers: LayersConfig, digest: str) -> PolicyInfo:
    image = layers.image
    return PolicyInfo(
        version=policy.version,
        digest=digest,
        audit_keep_content=policy.audit_keep_content,
        categories=[
            PolicyCategoryOut(
                name=name,
                description=spec.description,
                threshold=spec.threshold,
                input=spec.input.value,
                output=spec.output.value,
                terms=len(spec.terms),
                patterns=len(spec.patterns),
            )
            for name, spec in policy.categories.items()
        ],
        layers=PolicyLayersOut(
            classifier=layers.classifier.enabled,
            profanity=layers.profanity.enabled,
            guard=layers.guard is not None,
            ocr=image.read.text.ocr.enabled,
            codes=image.read.text.codes.enabled,
            nsfw=image.read.nsfw.enabled,
            nudenet=image.nudenet.enabled,
            vlm_question=image.vlm_question.enabled,
        ),
        guard_model=layers.guard.model.model if layers.guard is not None else None,
    )
