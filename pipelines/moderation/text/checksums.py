"""Checksums that separate real identifiers from look-alike numbers (order ids, SKUs)."""

from __future__ import annotations

from collections.abc import Callable

_CN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_ID_CHECK = "10X98765432"


def digits_of(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit() or ch in "xX")


def luhn_valid(text: str) -> bool:
    digits = [int(d) for d in text if d.isdigit()]
    if not 12 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def cn_resident_id_valid(text: str) -> bool:
    """GB 11643-1999: 17 digits, then a check character (mod 11, 'X' for 10)."""
    value = digits_of(text).upper()
    if len(value) != 18 or not value[:17].isdigit():
        return False
    checksum = sum(int(d) * w for d, w in zip(value[:17], _CN_ID_WEIGHTS, strict=True)) % 11
    return value[17] == _CN_ID_CHECK[checksum]


VALIDATORS: dict[str, Callable[[str], bool]] = {"luhn": luhn_valid, "cn_resident_id": cn_resident_id_valid}
