"""The NSFW screen's part of the policy file: which category it reports under, and per-class thresholds.

Kept apart from the screener (``nsfw.py``, which loads onnxruntime) so the policy schema can include it
without loading a model runtime. Proposed place in ``configs/policy.yaml``::

    images:
      nsfw:
        category: sexual
        thresholds: {porn: 0.9, hentai: 0.9, sexy: 0.95}

nsfwjs's classes: ``porn`` (explicit photographs) and ``hentai`` (explicit drawings) flag; ``sexy``
(suggestive, not explicit: swimwear, lingerie) flags only when very confident, since shops sell
swimwear; ``drawing`` and ``neutral`` are not fields, so they can never flag.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NsfwThresholds(_Strict):
    """Probability at or above which a class flags an image; null: the class never flags.

    The defaults flag 0.8% of the benign set in tests/dev/nsfw_images.py (library sample photos,
    faces, product shots, synthetic pictures): blurry, smooth, skin-toned textures are what the
    model mistakes for ``porn`` (up to 0.94 on a 25 x 25 face thumbnail), and 0.9 sits above most.
    """

    porn: float | None = Field(0.9, ge=0.0, le=1.0, description="Explicit photographs.")
    hentai: float | None = Field(0.9, ge=0.0, le=1.0, description="Explicit drawings.")
    sexy: float | None = Field(
        0.95, ge=0.0, le=1.0, description="Suggestive, not explicit (swimwear, lingerie): higher, as shops show them."
    )

    def items(self) -> list[tuple[str, float]]:
        """(class, threshold) of the classes that may flag."""
        return [(name, value) for name, value in self.model_dump().items() if value is not None]


class NsfwPolicy(_Strict):
    category: str = Field("sexual", description="Policy category the flagging classes are reported under.")
    thresholds: NsfwThresholds = Field(default_factory=NsfwThresholds)

    def flagged(self, probabilities: Mapping[str, float]) -> list[tuple[str, float]]:
        """(class, probability) of each class at or above its threshold."""
        return [(name, probabilities[name]) for name, value in self.thresholds.items() if probabilities[name] >= value]

    def check(self, category_thresholds: Mapping[str, float]) -> None:
        """Refuse what the engine would silently drop: a hit is its class's probability, and the
        engine counts it only at or above the category's own ``threshold``."""
        if self.category not in category_thresholds:
            raise ValueError(f"images.nsfw: the policy has no category {self.category!r}")
        floor = category_thresholds[self.category]
        low = [name for name, value in self.thresholds.items() if value < floor]
        if low:
            raise ValueError(
                f"images.nsfw: thresholds of {low} are below the {self.category!r} category's threshold {floor}, "
                "so their hits would never count"
            )
