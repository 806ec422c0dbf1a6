"""The generator: templates expanded from the word pools, surface noise, and the families' texts."""

from __future__ import annotations

import random
import re

from devtools.synthetic_moderation import hate, illegal, pii, self_harm, sexual, spam, violence
from devtools.synthetic_moderation.drawn import DRAWN_EN, DRAWN_ZH
from devtools.synthetic_moderation.everyday_en import EVERYDAY_EN
from devtools.synthetic_moderation.model import Family, Slot, SyntheticText
from devtools.synthetic_moderation.words_en import WORDS_EN
from devtools.synthetic_moderation.words_zh import WORDS_ZH

_SLOT = re.compile(r"\{([a-z_0-9]+)\}")
_ALTERNATIVES = re.compile(r"\[([^\[\]]*)\]")
_MAX_DEPTH = 6

SLOTS_EN: dict[str, Slot] = {**DRAWN_EN, **WORDS_EN, **EVERYDAY_EN}
SLOTS_ZH: dict[str, Slot] = {**DRAWN_ZH, **WORDS_ZH}

# English first, then Chinese; within each, the categories in this order (the order of the texts).
_CATEGORIES = (violence, hate, self_harm, sexual, illegal, spam, pii)
FAMILIES: tuple[Family, ...] = tuple(
    f for lang in ("en", "zh") for c in _CATEGORIES for f in c.FAMILIES if f.lang == lang
)
SLOTS: dict[str, dict[str, Slot]] = {"en": SLOTS_EN, "zh": SLOTS_ZH}

# Short benign sentences put around a text now and then, so a harmful sentence inside longer
# harmless text still counts and harmless context does not.
_CONTEXT = {
    "en": (
        "Anyway, hope your week is going well.",
        "I just got back from work.",
        "Sorry for the late reply.",
        "Long story short:",
        "Quick question.",
        "Not sure how to say this.",
        "Thanks in advance.",
        "lol",
        "Honestly,",
        "Update:",
    ),
    "zh": (
        "说真的，",
        "哎，",
        "兄弟们，",
        "刚下班。",
        "不好意思回复晚了。",
        "哈哈，",
        "对了，",
        "问一下，",
        "有人知道吗？",
        "唉。",
    ),
}
_EMOJI = ("😂", "🙄", "😡", "🔥", "👍", "😭", "💯", "🤣", "😘", "❤️")


def expand(template: str, slots: dict[str, Slot], rng: random.Random) -> str:
    """Fill a template: alternatives first (innermost out), then slots, repeatedly (slot values may nest)."""
    text = template
    for _ in range(_MAX_DEPTH):
        previous = text
        text = _ALTERNATIVES.sub(lambda m: rng.choice(m.group(1).split("|")), text)
        text = _SLOT.sub(lambda m: _fill(slots, m.group(1), rng), text)
        if text == previous:
            break
    return text


def _fill(slots: dict[str, Slot], name: str, rng: random.Random) -> str:
    slot = slots[name]
    return slot(rng) if callable(slot) else rng.choice(slot)


def perturb(text: str, lang: str, rng: random.Random) -> str:
    """Surface noise that leaves the meaning alone: case, end punctuation, interjections, context."""
    if lang == "en":
        roll = rng.random()
        if roll < 0.25:
            text = text.lower()
        elif roll < 0.3:
            text = text.upper()
        elif roll < 0.7:
            text = text[:1].upper() + text[1:]
        end = rng.random()
        if end < 0.3:
            text = text.rstrip("?.!") + rng.choice([".", "!", "!!", "?", "..."])
    else:
        end = rng.random()
        if end < 0.35:
            text = text + rng.choice(["。", "！", "？", "!!", "…", "哈哈", "啊", "呢"])
    if rng.random() < 0.08:
        text = text + " " + rng.choice(_EMOJI)
    if rng.random() < 0.12:
        context = rng.choice(_CONTEXT[lang])
        joiner = " " if lang == "en" else ""
        text = joiner.join([context, text] if rng.random() < 0.6 else [text, context])
    return text


def generate(seed: int = 0, scale: float = 1.0) -> list[SyntheticText]:
    """Every family's texts, deduplicated within a family; ``scale`` multiplies each family's count."""
    out: list[SyntheticText] = []
    for family in (part for whole in FAMILIES for part in whole.split()):
        rng = random.Random(f"{seed}:{family.name}")
        slots = SLOTS[family.lang]
        seen: set[str] = set()
        target = max(1, round(family.count * scale))
        for _ in range(target * 4):
            if len(seen) >= target:
                break
            text = perturb(expand(rng.choice(family.templates), slots, rng), family.lang, rng).strip()
            if text and text not in seen:
                seen.add(text)
                out.append(SyntheticText(text, family.lang, family.labels, family.name, family.holdout))
    return out
