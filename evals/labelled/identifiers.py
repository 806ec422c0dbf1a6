"""Synthetic identifiers: card numbers (Luhn-valid or not), resident IDs (checksum right or wrong),
phone numbers, and how they are written."""

from __future__ import annotations

import random

from pipelines.moderation.text.checksums import cn_resident_id_valid, luhn_valid


def luhn_check_digit(body: str) -> str:
    """The digit that makes ``body + digit`` Luhn-valid."""
    for digit in "0123456789":
        if luhn_valid(body + digit):
            return digit
    raise AssertionError("unreachable: one digit always completes a Luhn number")


def card_number(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    number = body + luhn_check_digit(body)
    assert luhn_valid(number)
    return number


def non_luhn_number(rng: random.Random, prefix: str, length: int) -> str:
    """A number of card length whose last digit is off by one: it fails Luhn."""
    valid = card_number(rng, prefix, length)
    number = valid[:-1] + str((int(valid[-1]) + 1) % 10)
    assert not luhn_valid(number)
    return number


_CN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_ID_CHECK = "10X98765432"
_AREAS = ("110105", "310104", "440305", "330106", "510107", "420111", "320102", "370202")


def resident_id(rng: random.Random) -> str:
    """A GB 11643-1999 checksum-valid resident ID number with a birth date in 1880-1899."""
    birth = f"{rng.randint(1880, 1899)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body = rng.choice(_AREAS) + birth + f"{rng.randint(0, 999):03d}"
    check = _CN_ID_CHECK[sum(int(d) * w for d, w in zip(body, _CN_ID_WEIGHTS, strict=True)) % 11]
    number = body + check
    assert cn_resident_id_valid(number)
    return number


def wrong_check_resident_id(rng: random.Random) -> str:
    """An ID-shaped 18-digit number with a wrong check digit, and not Luhn-valid either (a Luhn-valid
    18-digit number is a plausible bank card, which the policy redacts by design)."""
    valid = resident_id(rng)
    for digit in "0123456789":
        number = valid[:-1] + digit
        if number != valid and not cn_resident_id_valid(number) and not luhn_valid(number):
            return number
    raise AssertionError("unreachable")


def phone_number(rng: random.Random) -> str:
    """A synthetic mainland mobile number (1[3-9]x + 8 digits)."""
    return "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))


def group4(number: str, sep: str = " ") -> str:
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


def phone_344(number: str, sep: str = " ") -> str:
    return f"{number[:3]}{sep}{number[3:7]}{sep}{number[7:]}"
