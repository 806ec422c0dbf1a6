"""Checksums and number plans that separate real identifiers from look-alike numbers (order ids, SKUs).

Each validator takes the text a pattern matched (folded: ASCII digits, lower case) and says whether
it is the identifier the pattern is looking for. All are bounded: they only ever see one match, and
the pattern bounds its length.

Decisions:

* Bank cards need Luhn *and* a card network's number range and length (ISO/IEC 7812 issuer ranges
  as the networks publish them): Luhn alone passes one random number in ten, so a tracking number
  would be a "card" one time in ten. Ranges are prefixes; overlapping ranges are fine.
* Chinese resident IDs need the GB 11643-1999 check character and a real birth date.
* US social security numbers follow the SSA's structural rules: area 001-899 except 666, group
  01-99, serial 0001-9999 (numbers issued since 2011 are random within those rules).
* Phone numbers are checked against libphonenumber's number plans (``phonenumbers``, Apache-2.0).
  Its checks cost tens of microseconds, so results are cached and the pattern layer caps how many
  it checks per text (``scan.max_phone_checks``).
* IBANs need their country's length (ISO 13616 registry) and the mod-97 check.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from functools import lru_cache

import phonenumbers

_CN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_ID_CHECK = "10X98765432"
_CN_ID_AREA_FIRST_DIGITS = "12345678"  # GB/T 2260 region codes start 1-8 (9: reserved)
_CARD_LENGTHS = range(12, 20)
# (prefix range low, high, allowed lengths) per network; a number passes if any row matches.
_CARD_RANGES: tuple[tuple[int, int, tuple[int, ...]], ...] = (
    (4, 4, (13, 16, 19)),  # Visa
    (51, 55, (16,)),  # Mastercard
    (2221, 2720, (16,)),  # Mastercard 2-series
    (34, 34, (15,)),  # American Express
    (37, 37, (15,)),  # American Express
    (62, 62, (16, 17, 18, 19)),  # UnionPay
    (81, 81, (16, 17, 18, 19)),  # UnionPay (8171 range)
    (3528, 3589, (16, 17, 18, 19)),  # JCB
    (2131, 2131, (15,)),  # JCB, legacy 15-digit
    (1800, 1800, (15,)),  # JCB, legacy 15-digit
    (6011, 6011, (16, 17, 18, 19)),  # Discover
    (644, 649, (16, 17, 18, 19)),  # Discover
    (65, 65, (16, 17, 18, 19)),  # Discover
    (300, 305, (14, 15, 16, 17, 18, 19)),  # Diners Club
    (36, 36, (14, 15, 16, 17, 18, 19)),  # Diners Club
    (38, 39, (14, 15, 16, 17, 18, 19)),  # Diners Club
    (2200, 2204, (16, 17, 18, 19)),  # Mir
    (50, 50, tuple(_CARD_LENGTHS)),  # Maestro
    (56, 58, tuple(_CARD_LENGTHS)),  # Maestro
    (6304, 6304, tuple(_CARD_LENGTHS)),  # Maestro
    (6759, 6759, tuple(_CARD_LENGTHS)),  # Maestro UK
    (6761, 6763, tuple(_CARD_LENGTHS)),  # Maestro
)
_SSN_FORBIDDEN_AREAS = frozenset({0, 666})
_SSN_MAX_AREA = 899
# ISO 13616 IBAN lengths by country (SWIFT IBAN registry).
_IBAN_LENGTHS = {
    "ad": 24, "ae": 23, "al": 28, "at": 20, "az": 28, "ba": 20, "be": 16, "bg": 22, "bh": 22, "br": 29,
    "by": 28, "ch": 21, "cr": 22, "cy": 28, "cz": 24, "de": 22, "dk": 18, "do": 28, "ee": 20, "eg": 29,
    "es": 24, "fi": 18, "fo": 18, "fr": 27, "gb": 22, "ge": 22, "gi": 23, "gl": 18, "gr": 27, "gt": 28,
    "hr": 21, "hu": 28, "ie": 22, "il": 23, "iq": 23, "is": 26, "it": 27, "jo": 30, "kw": 30, "kz": 20,
    "lb": 28, "lc": 32, "li": 21, "lt": 20, "lu": 20, "lv": 21, "mc": 27, "md": 24, "me": 22, "mk": 19,
    "mr": 27, "mt": 31, "mu": 30, "nl": 18, "no": 15, "pk": 24, "pl": 28, "ps": 29, "pt": 25, "qa": 29,
    "ro": 24, "rs": 22, "sa": 24, "sc": 31, "se": 24, "si": 19, "sk": 24, "sm": 27, "st": 25, "sv": 28,
    "tl": 23, "tn": 24, "tr": 26, "ua": 29, "va": 22, "vg": 24, "xk": 20,
}  # fmt: skip
_IBAN_MODULUS = 97
_PHONE_CACHE_SIZE = 4096
_E164_MAX_DIGITS = 15
_E164_MIN_DIGITS = 7


def digits_of(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit() or ch in "xX")


def luhn_valid(text: str) -> bool:
    digits = [int(d) for d in text if d.isdigit()]
    if len(digits) not in _CARD_LENGTHS:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def payment_card_valid(text: str) -> bool:
    """Luhn, and the length and number range of a card network."""
    digits = "".join(ch for ch in text if ch.isdigit())
    if not luhn_valid(digits):
        return False
    for low, high, lengths in _CARD_RANGES:
        width = len(str(low))
        if len(digits) in lengths and low <= int(digits[:width]) <= high:
            return True
    return False


def cn_resident_id_valid(text: str) -> bool:
    """GB 11643-1999: a region code, a real birth date, a sequence number, then a check character
    (mod 11, 'X' for 10)."""
    value = digits_of(text).upper()
    if len(value) != 18 or not value[:17].isdigit() or value[0] not in _CN_ID_AREA_FIRST_DIGITS:
        return False
    try:
        datetime.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    checksum = sum(int(d) * w for d, w in zip(value[:17], _CN_ID_WEIGHTS, strict=True)) % 11
    return value[17] == _CN_ID_CHECK[checksum]


def us_ssn_valid(text: str) -> bool:
    """The SSA's structural rules for a social security number (AAA-GG-SSSS)."""
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) != 9:
        return False
    area, group, serial = int(digits[:3]), int(digits[3:5]), int(digits[5:])
    return area not in _SSN_FORBIDDEN_AREAS and area <= _SSN_MAX_AREA and group > 0 and serial > 0


def iban_valid(text: str) -> bool:
    """The country's IBAN length and the ISO 7064 mod-97 check."""
    value = "".join(ch for ch in text if ch.isalnum()).lower()
    if _IBAN_LENGTHS.get(value[:2]) != len(value) or not value[2:4].isdigit():
        return False
    rearranged = value[4:] + value[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % _IBAN_MODULUS == 1


@lru_cache(maxsize=_PHONE_CACHE_SIZE)
def _phone_valid(text: str, region: str | None) -> bool:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def _phone_key(text: str) -> str:
    """The digits (and a leading +) only, so the cache sees one key per number however it is spaced."""
    digits = "".join(ch for ch in text if ch.isdigit())
    return "+" + digits if text.lstrip("( ").startswith("+") else digits


def phone_cn_valid(text: str) -> bool:
    """A valid number in China's plan (mobile or landline with its area code), written nationally."""
    return _phone_valid(_phone_key(text), "CN")


def phone_nanp_valid(text: str) -> bool:
    """A valid North American number (US, Canada and the other +1 countries), written nationally."""
    key = _phone_key(text)
    return _phone_valid(key, "US") or _phone_valid(key, "CA")


def phone_intl_valid(text: str) -> bool:
    """A valid number in international form: ``+`` or ``00``, then the country code (E.164)."""
    key = _phone_key(text)
    if key.startswith("00"):
        key = "+" + key[2:]
    if not key.startswith("+") or not _E164_MIN_DIGITS <= len(key) - 1 <= _E164_MAX_DIGITS:
        return False
    return _phone_valid(key, None)


VALIDATORS: dict[str, Callable[[str], bool]] = {
    "luhn": luhn_valid,
    "payment_card": payment_card_valid,
    "cn_resident_id": cn_resident_id_valid,
    "us_ssn": us_ssn_valid,
    "iban": iban_valid,
    "phone_cn": phone_cn_valid,
    "phone_nanp": phone_nanp_valid,
    "phone_intl": phone_intl_valid,
}
# Validators that cost tens of microseconds: capped per text by ``scan.max_phone_checks``.
COSTLY_VALIDATORS = frozenset({"phone_cn", "phone_nanp", "phone_intl"})
