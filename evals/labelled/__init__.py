"""A labelled moderation set, generated here, to measure the content policy's precision and recall.

Every text carries the policy categories a careful human reviewer would give it, decided from its
meaning and *not* from what the term lists in ``configs/policy.yaml`` happen to contain. The positive
sentences are written in their own words; the ``paraphrase`` items deliberately avoid the policy's
wording, and some ``evasion`` spellings (leetspeak, Cyrillic look-alike letters, pinyin, homophones)
are ones the rule layers are not built to see through, so recall is measured, not guaranteed.

Labelling guide (applied to the meaning of each text):

* ``sexual``: explicit sexual content or requests for it, including every ``sexual/minors`` text
  (sexualisation of minors is a kind of sexual content, as in OpenAI's S / S3 labels).
* ``sexual/minors``: any sexualisation of minors.
* ``violence``: threats, incitement, or instructions for serious violence or weapons of mass harm.
* ``hate/harassment``: insults, slurs, dehumanisation or harassment aimed at a person or a group,
  including telling someone to kill themselves and threats aimed at the person addressed.
* ``self-harm``: the writer's own intent to self-harm, or requests for methods or encouragement.
* ``illegal``: buying, selling or making drugs, forged documents, counterfeit money, fraud, illegal weapons.
* ``spam``: advertising lures that move users off-platform (contact handles, groups, short links,
  "only $9.99!!!" pitches).
* ``pii``: e-mail addresses, phone numbers, bank card numbers, ID, passport and social security numbers,
  home addresses.

Kinds: ``plain`` (a positive in ordinary wording), ``paraphrase`` (a positive worded without the
policy's terms), ``evasion`` (a positive with a disguised key word), ``benign`` (everyday shopping
and support questions), ``benign_lookalike`` (clean text that resembles a rule: order codes shaped
like phone numbers, numbers failing their checksum, "sex education", "killer deal"; it must fire none
of the rule categories) and ``benign_hard`` (clean text that a literal term or a random number can
plausibly trip, e.g. a support question about one's WeChat ID or a tracking number that passes Luhn
by chance: counted in precision, but not asserted clean).

PII values are synthetic: e-mails on the reserved ``example.*`` domains, card numbers made
Luhn-valid here, resident IDs made checksum-valid here with birth years 1880-1899 (nobody alive holds
one), phone numbers drawn from a seeded generator. Everything is deterministic.

Modules: :mod:`~evals.labelled.content` and :mod:`~evals.labelled.commerce` (the positives),
:mod:`~evals.labelled.evasions` (with :mod:`~evals.labelled.spellings`), :mod:`~evals.labelled.pii`,
:mod:`~evals.labelled.clean`, :mod:`~evals.labelled.identifiers` and :mod:`~evals.labelled.scoring`.
"""

from __future__ import annotations

import random

from evals.labelled.clean import benign_hard, benign_lookalikes
from evals.labelled.commerce import COMMERCE
from evals.labelled.content import CONTENT
from evals.labelled.evasions import evasions
from evals.labelled.identifiers import (
    card_number,
    group4,
    luhn_check_digit,
    non_luhn_number,
    phone_344,
    phone_number,
    resident_id,
    wrong_check_resident_id,
)
from evals.labelled.model import CLEAN_KINDS, POSITIVE_KINDS, RULE_CATEGORIES, SEED, LabelledText, Language
from evals.labelled.pii import pii
from evals.labelled.scoring import Scores, fired_categories, precision_recall, score

__all__ = [
    "CLEAN_KINDS",
    "POSITIVE_KINDS",
    "RULE_CATEGORIES",
    "SEED",
    "LabelledText",
    "Language",
    "Scores",
    "card_number",
    "fired_categories",
    "group4",
    "labelled_set",
    "luhn_check_digit",
    "non_luhn_number",
    "phone_344",
    "phone_number",
    "positives",
    "precision_recall",
    "resident_id",
    "score",
    "wrong_check_resident_id",
]


def positives() -> list[LabelledText]:
    return [
        LabelledText(text, frozenset(categories.split("+")), language, kind)
        for categories, language, kind, texts in (*CONTENT, *COMMERCE)
        for text in texts
    ]


def labelled_set() -> list[LabelledText]:
    """The whole set, in a fixed order (same texts on every call)."""
    rng = random.Random(SEED)
    items = [*positives(), *evasions(), *pii(rng), *benign_lookalikes(rng), *benign_hard(rng)]
    texts = [item.text for item in items]
    assert len(texts) == len(set(texts)), "duplicate texts in the labelled set"
    return items
