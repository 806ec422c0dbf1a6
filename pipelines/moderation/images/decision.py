"""One audited decision that includes the image screens' findings, with the findings per image.

Decisions:

* The image findings are computed before the check (the screens run in their own deployment, in
  parallel, under a deadline) and enter the :class:`~pipelines.moderation.moderator.Moderator`'s one
  audited decision as ``extra_hits``, so the decision, its audit record and its fail modes stay one
  code path.
* :class:`ImageDecision` is a :class:`PolicyDecision` (every consumer keeps working) that also carries
  the findings per image: image index, category, layer, matched text and box.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from PIL import Image

from pipelines.moderation.images.judge import ImageFinding
from pipelines.moderation.moderator import Moderator
from pipelines.moderation.policy.config import CategoryPolicy, Direction
from pipelines.moderation.policy.engine import PolicyDecision


@dataclass
class ImageDecision(PolicyDecision):
    images: list[ImageFinding] = field(default_factory=list)


def check_with_findings(
    moderator: Moderator,
    findings: Sequence[ImageFinding],
    text: str,
    direction: Direction,
    request_id: str,
    *,
    prompt: str | None = None,
    images: Sequence[Image.Image] = (),
) -> ImageDecision:
    """``moderator.check`` with ``findings`` among its hits; the decision reports the findings that
    counted, per category at most the policy's ``max_reported_spans``."""
    hits = [finding.policy_hit() for finding in findings]
    kept = reported(findings, moderator.policy.categories, moderator.policy.max_reported_spans)
    described = [audit_description(f, keep_text=moderator.policy.audit_keep_content) for f in kept]
    decision = moderator.check(
        text, direction, request_id, prompt=prompt, images=images, extra_hits=hits, image_findings=described
    )
    return ImageDecision(**{f.name: getattr(decision, f.name) for f in dataclasses.fields(PolicyDecision)}, images=kept)


def audit_description(finding: ImageFinding, *, keep_text: bool) -> dict[str, object]:
    """A finding as its audit record keeps it: the read text is content, kept only when the policy keeps it."""
    described: dict[str, object] = {
        "image_index": finding.image_index,
        "category": finding.category,
        "source": finding.source,
        "layer": finding.layer,
        "score": round(finding.score, 4),
        "boxes": [[[round(float(x), 1), round(float(y), 1)] for x, y in quad] for quad in finding.boxes],
    }
    if keep_text:
        described["text"] = finding.text
    return described


def reported(
    findings: Sequence[ImageFinding], categories: Mapping[str, CategoryPolicy], cap: int
) -> list[ImageFinding]:
    """The findings that count (a category of the policy, at or above its threshold), at most ``cap`` per
    category, so decisions stay small."""
    kept: list[ImageFinding] = []
    counts: dict[str, int] = {}
    for finding in findings:
        spec = categories.get(finding.category)
        if spec is None or finding.score < spec.threshold or counts.get(finding.category, 0) >= cap:
            continue
        counts[finding.category] = counts.get(finding.category, 0) + 1
        kept.append(finding)
    return kept
