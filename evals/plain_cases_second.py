"""Plain moderation cases by a second author, who wrote them from a brief without reading the policy,
its lexicons or the classifier's training data (2026-12-02).

A development set: the lexicons and patterns of policy 2026.12.02-3 were extended after reading its
misses (by kind of phrasing, not by string), so its numbers now overstate what the service does on new
text. ``evals/plain_cases_blind.py`` is the held-out set written the same way.
"""

from __future__ import annotations

from evals.plain_cases_base import load_cases

SECOND_AUTHOR_CASES = load_cases("plain_cases_second.jsonl")
