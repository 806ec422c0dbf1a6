"""Values drawn fresh for every text: phone numbers, handles, prices, card and id numbers (checksums
right), ages, counts; and the slots of each language that draw them."""

from __future__ import annotations

import random

from devtools.synthetic_moderation.model import Slot


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _cn_mobile(rng: random.Random) -> str:
    number = "1" + rng.choice("3456789") + _digits(rng, 9)
    style = rng.randrange(4)
    if style == 1:
        return f"{number[:3]} {number[3:7]} {number[7:]}"
    if style == 2:
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    if style == 3:
        return "+86 " + number
    return number


def _us_phone(rng: random.Random) -> str:
    a, b, c = str(rng.randint(201, 989)), _digits(rng, 3), _digits(rng, 4)
    return rng.choice([f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"+1 {a} {b} {c}", f"{a}.{b}.{c}", f"{a}{b}{c}"])


def _uk_premium(rng: random.Random) -> str:
    return rng.choice(["0906", "0907", "0871", "0800", "0845", "0870"]) + _digits(rng, 7)


def _short_code(rng: random.Random) -> str:
    return str(rng.randint(60000, 89999))


def _handle(rng: random.Random) -> str:
    stems = ["shop", "vip", "meimei", "xiaoli", "haohuo", "deal", "kefu", "abc", "love", "daili", "tg", "lucky"]
    stem = rng.choice(stems)
    return rng.choice(
        [f"{stem}{_digits(rng, 4)}", f"{stem}_{_digits(rng, 3)}", f"{stem}{_digits(rng, 2)}x", _digits(rng, 9)]
    )


def _at_handle(rng: random.Random) -> str:
    return (
        "@"
        + rng.choice(["cheap", "best", "vip", "crypto", "deals", "hot", "promo"])
        + rng.choice(["_deals", "shop", "_club", "girls", "signals", "store"])
        + _digits(rng, rng.randint(0, 3))
    )


def _qq(rng: random.Random) -> str:
    return str(rng.randint(10000000, 9999999999))


def _short_url(rng: random.Random) -> str:
    letters = "abcdefghijkmnpqrstuvwxyz23456789"
    code = "".join(rng.choice(letters) for _ in range(rng.randint(5, 8)))
    host = rng.choice(["bit.ly", "t.cn", "tinyurl.com", "t.me", "goo.gl", "is.gd", "cutt.ly", "url.cn"])
    return rng.choice(["", "http://", "https://"]) + f"{host}/{code}"


def _site(rng: random.Random) -> str:
    name = rng.choice(["win", "cash", "free", "bonus", "prize", "hot", "lucky", "vip", "888", "dafa"])
    return (
        rng.choice(["www.", "http://", ""])
        + name
        + rng.choice(["-now", "bet", "club", "zone", "24", ""])
        + rng.choice([".com", ".net", ".xyz", ".top", ".cc"])
    )


def _money_en(rng: random.Random) -> str:
    return rng.choice(["$", "£", "$", "€"]) + str(rng.choice([50, 100, 250, 500, 900, 1000, 1500, 2000, 5000, 10000]))


def _price_zh(rng: random.Random) -> str:
    return str(rng.choice([9.9, 19, 38, 68, 88, 99, 128, 198, 288, 399, 588, 888, 1288]))


def _luhn(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return body + str((10 - total % 10) % 10)


def _card(rng: random.Random) -> str:
    number = _luhn(rng.choice(["4", "51", "52", "62", "37"]) + _digits(rng, 14 if rng.random() < 0.8 else 13))
    if rng.random() < 0.5:
        return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    return number


_CN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _cn_id(rng: random.Random) -> str:
    body = rng.choice(["110105", "310104", "440305", "330106", "510107", "420111", "320102"]) + str(
        rng.randint(1950, 2005)
    )
    body += f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}" + _digits(rng, 3)
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, _CN_WEIGHTS, strict=True)) % 11]


def _ssn(rng: random.Random) -> str:
    return f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"


def _order_no(rng: random.Random) -> str:
    return rng.choice(["", "SO", "DD", "#", "NO."]) + _digits(rng, rng.randint(8, 16))


def _tracking(rng: random.Random) -> str:
    return rng.choice(["SF", "YT", "ZTO", "JD", "1Z", "EMS"]) + _digits(rng, rng.randint(10, 13))


def _age_minor(rng: random.Random) -> str:
    return str(rng.randint(8, 15))


def _age_adult(rng: random.Random) -> str:
    return str(rng.randint(19, 45))


def _email(rng: random.Random) -> str:
    user = rng.choice(["anna", "j.smith", "mike88", "lily.wang", "zhangwei", "li_na", "tom.b", "kevin2020"])
    domain = rng.choice(["gmail.com", "qq.com", "163.com", "outlook.com", "yahoo.com", "example.org"])
    return f"{user}{rng.choice(['', str(rng.randint(1, 99))])}@{domain}"


def _count(rng: random.Random) -> str:
    return str(rng.choice([2, 3, 5, 10, 20, 30, 50, 100]))


# drawn alike in both languages
_SHARED: dict[str, Slot] = {
    "handle": _handle,
    "url": _short_url,
    "site": _site,
    "card": _card,
    "order": _order_no,
    "tracking": _tracking,
    "minor_age": _age_minor,
    "adult_age": _age_adult,
    "email": _email,
    "n": _count,
    "digits4": lambda rng: _digits(rng, 4),
}

DRAWN_EN: dict[str, Slot] = {
    "phone": _us_phone,
    "premium": _uk_premium,
    "short": _short_code,
    "athandle": _at_handle,
    "money": _money_en,
    "ssn": _ssn,
    **_SHARED,
}

DRAWN_ZH: dict[str, Slot] = {"phone": _cn_mobile, "qq": _qq, "price": _price_zh, "cnid": _cn_id, **_SHARED}
