"""Held-out plain moderation cases by a third author, written from a brief without reading the policy,
its lexicons, the classifier's training data or the other case sets (2026-12-02).

Never used to change a rule, a lexicon, a threshold or a training set: ``bench.moderation_eval`` reports
it as the honest estimate for plain text the rules were not written against. Keep it that way: a miss
found here is fixed only together with new blind cases that replace this set.
"""

from __future__ import annotations

from evals.plain_cases_base import load_cases

BLIND_CASES = load_cases("plain_cases_blind.jsonl")
