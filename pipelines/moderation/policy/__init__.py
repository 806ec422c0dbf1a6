"""The content policy: its file format (``config``) and the decision logic (``engine``).

Only the schema is re-exported here: the engine imports the text detectors, which import the schema,
so importing the engine from this package's ``__init__`` would make a cycle.
"""

from pipelines.moderation.policy.config import Action, CategoryPolicy, Direction, PatternSpec, Policy, load_policy

__all__ = ["Action", "CategoryPolicy", "Direction", "PatternSpec", "Policy", "load_policy"]
