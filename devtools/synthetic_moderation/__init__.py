"""Synthetic training text for the categories the moderation corpus lacks, written by this project.

The corpus (``shared/datasets/moderation-train``) has Chinese group offence (COLD), illegal-activity
questions (JADE), English tweets (Davidson), English spam comments (YouTube) and US/EU PII templates,
and next to nothing for sexual content, self-harm, threats, Chinese ads and lures, Chinese PII,
insults aimed at one person, or the benign look-alikes that make a moderation model over-block
("How do I kill a mosquito?", "秒杀活动", sex education). This module writes them.

How it varies: each :class:`Family` is a set of templates in one language with one label set.
Templates mix inline alternatives (``[a|b|]``, the empty one makes a part optional) and slots
(``{insult}``) filled from word pools, recursively; numbers, handles, prices, phone numbers and ids are
drawn fresh. Each text is then perturbed (case, punctuation, interjections, emoji, a benign sentence
around it), so no surface form repeats often enough to be learnt instead of the concept.

Every positive family has look-alike benign families built from the same words in harmless senses,
so a word (``kill``, ``杀``, ``sex``, ``微信``) never decides alone.

Families marked ``holdout`` are never trained on: the trainer puts them in the validation split to
measure generalisation to phrasings the model has not seen (a held-out row of a *seen* family is weak
evidence: its template leaked). Everything is deterministic for a given seed.
"""

from devtools.synthetic_moderation.generator import FAMILIES, SLOTS, SLOTS_EN, SLOTS_ZH, expand, generate, perturb
from devtools.synthetic_moderation.model import Family, Slot, SyntheticText

__all__ = [
    "FAMILIES",
    "SLOTS",
    "SLOTS_EN",
    "SLOTS_ZH",
    "Family",
    "Slot",
    "SyntheticText",
    "expand",
    "generate",
    "perturb",
]
