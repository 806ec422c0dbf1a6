"""Policy decisions in the API's shapes: per-category filter results, summaries, moderation results.

One definition for the service's responses and the offline job's rows (jobs/batch_moderate), so
both say the same thing about the same decision.
"""

from __future__ import annotations

from pipelines.moderation.moderator import openai_moderation
from pipelines.moderation.policy.engine import PolicyDecision
from serve_app.api.protocol import CategoryResultOut, ImageFindingOut, ModerationResult, ModerationSummary


def category_results(decision: PolicyDecision) -> dict[str, CategoryResultOut]:
    """Every category of the policy: filtered, detected, score, action and the matched spans."""
    return {
        name: CategoryResultOut(
            filtered=result.filtered,
            detected=result.detected,
            score=result.score,
            action=result.action,
            spans=[list(span) for span in result.spans],
        )
        for name, result in decision.categories.items()
    }


def image_findings(decision: PolicyDecision) -> list[ImageFindingOut]:
    """The findings of an image-screened decision (``ImageDecision``); none for a text-only one."""
    return [
        ImageFindingOut(
            image_index=f.image_index,
            category=f.category,
            source=f.source,
            layer=f.layer,
            score=f.score,
            text=f.text,
            boxes=[[[float(x), float(y)] for x, y in quad] for quad in f.boxes],
        )
        for f in getattr(decision, "images", ())
    ]


def summary(decision: PolicyDecision) -> ModerationSummary:
    return ModerationSummary(
        policy_version=decision.policy_version,
        action=decision.action,
        blocked=decision.blocked,
        categories=category_results(decision),
        image_findings=image_findings(decision),
    )


def moderation_result(decision: PolicyDecision, *, has_text: bool, has_image: bool) -> ModerationResult:
    view = openai_moderation(decision, has_text=has_text, has_image=has_image)
    return ModerationResult(
        flagged=decision.action != "allow",
        categories=view.categories,
        category_scores=view.category_scores,
        category_applied_input_types=view.category_applied_input_types,
        action=decision.action,
        policy_version=decision.policy_version,
        category_results=category_results(decision),
        image_findings=image_findings(decision),
    )
