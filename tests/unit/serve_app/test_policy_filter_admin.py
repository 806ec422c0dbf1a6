"""The PolicyFilter deployment's admin methods in process (no Ray): stats of the decisions it audited
itself, on a SQLite audit log, and the policy it loaded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipelines.core.errors import InvalidRequestError
from serve_app.api.protocol import StatsQuery
from serve_app.deployments.policy_filter import PolicyFilterDeployment

ROOT = Path(__file__).resolve().parents[3]
LAYERS = {"classifier": {"enabled": False}, "image": {"read": {"nsfw": {"enabled": False}}}}


def make_filter(audit: dict[str, Any] | None) -> Any:
    deployment = PolicyFilterDeployment.func_or_class(audit, "tiny")
    deployment.reconfigure({"policy_file": str(ROOT / "configs/policy.yaml"), "layers": LAYERS})
    return deployment


@pytest.fixture
def policy_filter(tmp_path: Path) -> Iterator[Any]:
    audit = {
        "url": f"sqlite:///{tmp_path / 'audit.db'}",
        "journal_dir": str(tmp_path / "journal"),
        "fsync": False,
        "max_stats_buckets": 48,
    }
    deployment = make_filter(audit)
    yield deployment
    deployment.audit.close()


def query(**fields: Any) -> dict[str, Any]:
    return StatsQuery.model_validate(fields).model_dump()


def test_stats_count_what_the_filter_decided(policy_filter: Any) -> None:
    start = datetime.now(UTC)
    for text in ("add wechat bag888 for cheap bags", "hello", "a plain question"):
        asyncio.run(policy_filter.check(text, "input", "r1"))
    asyncio.run(policy_filter.check("a plain answer", "output", "r1", "a plain question"))
    window = {"since": start - timedelta(minutes=1), "until": start + timedelta(minutes=1), "bucket": "minute"}
    stats = asyncio.run(policy_filter.stats(query(**window)))  # pending records are flushed first
    assert stats.totals.decisions == 4
    assert stats.totals.by_direction == {"input": 3, "output": 1}
    assert stats.totals.by_category.get("spam") == 1 and stats.totals.without_category == 3
    assert sum(d.count for d in stats.decisions) == 4 and len(stats.buckets) in (2, 3)


def test_too_many_buckets_is_a_400_on_bucket(policy_filter: Any) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        asyncio.run(policy_filter.stats(query(bucket="minute")))  # a day of minutes, 48 allowed
    assert (caught.value.param, caught.value.code, caught.value.status) == ("bucket", "too_many_buckets", 400)
    assert len(asyncio.run(policy_filter.stats(query(bucket="hour"))).buckets) in (24, 25)


def test_without_an_audit_log_every_count_is_zero() -> None:
    stats = asyncio.run(make_filter(None).stats(query(bucket="day")))
    assert stats.totals.decisions == 0 and stats.series == [] and len(stats.buckets) in (1, 2)


def test_the_loaded_policy(policy_filter: Any) -> None:
    info = policy_filter.describe_policy()
    assert info.version == policy_filter.moderator.policy.version
    assert info.digest == policy_filter.moderator.policy_digest
    assert [c.name for c in info.categories] == list(policy_filter.moderator.policy.categories)
    assert info.layers.classifier is False and info.layers.guard is False
    assert (info.layers.ocr, info.layers.codes, info.layers.nsfw) == (True, True, False)
