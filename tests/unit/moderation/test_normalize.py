"""Text normalisation (pipelines/moderation/text/normalize.py, folding.py): each evasion it folds, the
exact maps back to the original, the generated homoglyph table, and its cost on long adversarial texts."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools import gen_confusables
from pipelines.moderation.text import folding
from pipelines.moderation.text.normalize import NormalizedText
from tests.unit.adversarial import COMMON_ADVERSARIAL, cpu_seconds

RLO, PDF = "\u202e", "\u202c"


def views(text: str) -> NormalizedText:
    return NormalizedText.of(text)


# --- each evasion ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "compact"),
    [
        ("ＷｅＣｈａｔ", "wechat"),  # full-width
        ("Ⓟⓞⓡⓝ", "porn"),  # circled letters (NFKC)
        ("wе\u200bchаt", "wechat"),  # zero-width space, Cyrillic е and а
        ("w🍑e🍑c🍑h🍑a🍑t", "wechat"),  # emoji between letters
        ("we👍🏽chat", "wechat"),  # with a skin-tone modifier
        ("pörn", "porn"),  # accents
        ("Ρorn", "porn"),  # Greek capital rho
        ("槍支彈藥", "枪支弹药"),  # traditional Chinese
        ("加vх", "加vx"),  # a Cyrillic х beside Chinese and Latin
    ],
)
def test_evasions_fold_in_the_compact_view(text: str, compact: str) -> None:
    assert views(text).compact == compact


def test_real_words_of_other_alphabets_are_left_alone() -> None:
    assert views("привет мир").compact == "приветмир"  # Russian: п, и, в ... have no Latin look-alike
    assert views("αβγ").compact == "αβγ"
    assert views("рorn привет").compact == "pornпривет"  # only the disguised word is folded


@pytest.mark.parametrize(
    ("text", "leet", "leet_alt"),
    [
        ("p0rn", "porn", None),
        ("k1ll", "kill", "klll"),
        ("h3r0in", "heroin", None),
        ("c@sino", "casino", None),
        ("k!ll", "kill", None),
        ("a55", "ass", None),
        ("5ex", "sex", None),
        ("1nsane", "insane", "lnsane"),
    ],
)
def test_leetspeak_is_read_inside_words(text: str, leet: str, leet_alt: str | None) -> None:
    norm = views(text)
    assert (norm.leet, norm.leet_alt) == (leet, leet_alt)
    assert norm.compact == unicodedata.normalize("NFKD", text.casefold()).replace("@", "").replace("!", "")


@pytest.mark.parametrize("text", ["13800138000", "call 138 0013 8000", "2024-11-25", "yes!", "wow!!", "p 0 r n", "$45"])
def test_numbers_prices_and_punctuation_keep_their_digits(text: str) -> None:
    norm = views(text)
    assert norm.leet is None
    assert norm.folded == text.casefold()


def test_leet_never_reaches_the_pattern_view() -> None:
    norm = views("call 13800138000 or p0rn")
    assert norm.folded == "call 13800138000 or p0rn" and norm.leet == "call13800138000orporn"
    assert [norm.original[i] for i in norm.leet_positions] == ["0"]


def test_reversed_text_is_read_as_displayed() -> None:
    text = f"free {RLO}nrop{PDF} here\n{RLO}ab"
    norm = views(text)
    assert norm.compact == "freenrophereab"  # logical order is kept in the main views
    assert norm.visual is not None and norm.visual.compact == "freepornhereba"
    start = norm.visual.compact.index("porn")
    s, e = norm.visual.span(start, start + 4)
    assert norm.visual_span(s, e) == (5, 11)  # the whole run, with its RLO and PDF
    assert text[5:11] == f"{RLO}nrop{PDF}"


def test_an_override_ends_at_the_paragraph() -> None:
    norm = views(f"{RLO}cba\nxyz")
    assert norm.visual is not None and norm.visual.compact == "abcxyz"


def test_no_visual_copy_without_an_override() -> None:
    assert views("plain text").visual is None


def test_scanning_a_prefix_keeps_the_whole_original() -> None:
    norm = NormalizedText.of("abc def ghi", max_chars=5)
    assert norm.truncated and norm.scanned == 5
    assert norm.original == "abc def ghi" and norm.compact == "abcd"
    assert not NormalizedText.of("abc", max_chars=5).truncated


# --- exact maps --------------------------------------------------------------------------------------


def test_spans_are_exact_through_every_fold() -> None:
    text = "x ＡＢ\u200bc ﬁ é\u0301 槍 рo 🍑 p0 yes"
    norm = views(text)
    for view, origin in ((norm.compact, norm.origin), (norm.folded, norm.folded_origin)):
        assert len(view) == len(origin)
    assert "".join(text[i] for i in norm.origin) == "xＡＢcﬁﬁé槍рop0yes"
    accent = text.index("é")
    assert norm.span(6, 7) == (accent, accent + 2)  # é with its combining mark
    assert norm.span(4, 6) == (text.index("ﬁ"), text.index("ﬁ") + 1)  # both letters of the ligature
    assert norm.leet is not None and norm.leet[10:12] == "po"
    assert norm.origin_span(norm.leet_origin, 10, 12) == (text.index("p0"), text.index("p0") + 2)
    assert norm.folded_span(norm.folded.index("рo".replace("р", "p")), norm.folded.index("po") + 2) == (
        text.index("рo"),
        text.index("рo") + 2,
    )


_ANY = st.text(
    alphabet=st.sampled_from(list("ab c1!@0-.中槍ＡﬁрＰ\u200b\u202e\u202c\u0301🍑\n")) | st.characters(), max_size=80
)


@settings(max_examples=300, deadline=None)
@given(_ANY)
def test_every_view_maps_into_the_original_in_order(text: str) -> None:
    norm = views(text)
    assert len(norm.source) == len(text)
    for view, origin in ((norm.compact, norm.origin), (norm.folded, norm.folded_origin)):
        assert len(origin) == len(view)
        assert list(origin) == sorted(origin) and all(0 <= i < len(text) for i in origin)
    if norm.leet is not None:
        assert len(norm.leet) == len(norm.leet_origin)
        assert norm.leet_alt is None or len(norm.leet_alt) == len(norm.leet)
        assert list(norm.leet_origin) == sorted(norm.leet_origin)
        assert norm.leet_positions <= set(norm.leet_origin)
    if norm.visual is not None:
        assert sorted(norm.visual_origin) == list(range(len(text)))
        assert sorted(norm.visual.original) == sorted(text)


# --- the generated homoglyph table -------------------------------------------------------------------


def _table() -> dict[str, str]:
    return folding.HOMOGLYPHS


def test_homoglyph_table_maps_letters_to_ascii_letters() -> None:
    table = _table()
    assert len(table) >= 200
    assert {"а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x", "ο": "o", "Ι": "i"}.items() <= table.items()
    for key, value in table.items():
        assert not key.isascii() and unicodedata.category(key).startswith("L"), key
        assert unicodedata.normalize("NFKC", key) == key, key
        assert re.fullmatch("[a-z]", value), (key, value)


def test_homoglyph_block_is_what_the_generator_writes() -> None:
    """The committed block is the generator's output, not a hand edit (its version line included)."""
    text = Path(folding.__file__).read_text(encoding="utf-8")
    block = text[text.index(gen_confusables.BEGIN) : text.index(gen_confusables.END) + len(gen_confusables.END)]
    version = re.search(r"confusables\.txt (\S+) ", block)
    assert version is not None
    assert gen_confusables.render(_table(), version.group(1)) == block


def test_generator_reads_the_unicode_format(tmp_path: Path) -> None:
    sample = (
        "# Version: 15.1.0\n"
        "0430 ;\t0061 ;\tMA\t# ( а → a ) CYRILLIC SMALL LETTER A → LATIN SMALL LETTER A\n"
        "0406 ;\t006C ;\tMA\t# ( І → l ) CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I → LATIN SMALL LETTER L\n"
        "041E ;\t004F ;\tMA\t# ( О → O ) CYRILLIC CAPITAL LETTER O → LATIN CAPITAL LETTER O\n"
        "FF41 ;\t0061 ;\tMA\t# ( ａ → a ) FULLWIDTH LATIN SMALL LETTER A (NFKC already folds it)\n"
        "0030 ;\t004F ;\tMA\t# ( 0 → O ) DIGIT ZERO (ASCII: left to leetspeak)\n"
        "01C3 ;\t0021 ;\tMA\t# ( ǃ → ! ) not a letter target\n"
        "2F00 ;\t4E00 ;\tMA\t# ( ⼀ → 一 ) CJK\n"
        "0444 ;\t0278 ;\tMA\t# ( ф → ɸ ) target not ASCII\n"
    )
    assert gen_confusables.latin_lookalikes(sample) == {"І": "i", "О": "o", "а": "a"}
    source = tmp_path / "confusables.txt"
    source.write_text(sample, encoding="utf-8")
    assert gen_confusables.main(["--source", str(source)]) == 0


# --- cost ----------------------------------------------------------------------------------------------

ADVERSARIAL: dict[str, Callable[[int], str]] = {
    **COMMON_ADVERSARIAL,
    "mixed": lambda n: ("a1 中-" * n)[:n],
    "separators": lambda n: (".-_ " * n)[:n],
    "leet words": lambda n: ("p0rn " * n)[:n],
    "@ runs": lambda n: ("a@" * n)[:n],
    "overrides": lambda n: (f"{RLO}nrop " * n)[:n],
    "traditional": lambda n: ("槍支彈藥" * n)[:n],
    "full-width": lambda n: ("ＡＢ１２ " * n)[:n],
    "marks": lambda n: ("e\u0301" * n)[:n],
    "expanding": lambda n: ("ﬁ㎏½" * n)[:n],
}
BUDGET_S = 0.1  # for 32,000 characters on one core; typical is 2-15 ms


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_normalising_32k_adversarial_characters_is_fast_and_linear(name: str) -> None:
    make = ADVERSARIAL[name]
    long_text, short_text = make(32_000), make(8_000)
    NormalizedText.of(long_text)  # fill the per-character caches
    long_s, short_s = (
        cpu_seconds(lambda: NormalizedText.of(long_text)),
        cpu_seconds(lambda: NormalizedText.of(short_text)),
    )
    assert long_s < BUDGET_S, f"{name}: {long_s * 1000:.1f} ms"
    assert long_s < 4 * short_s * 2 + 0.002, f"{name}: 8k {short_s * 1000:.1f} ms, 32k {long_s * 1000:.1f} ms"
