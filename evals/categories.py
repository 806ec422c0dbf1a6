"""The policy's built-in categories (``configs/policy.yaml``), in the order reports list them: the
rule categories of the labelled set and the classes of the text classifier."""

POLICY_CATEGORIES: tuple[str, ...] = (
    "sexual",
    "sexual/minors",
    "violence",
    "hate/harassment",
    "self-harm",
    "illegal",
    "spam",
    "pii",
)
