"""Personal data: e-mails, phone, card and resident ID numbers (synthetic, checksums right), plain,
paraphrased and disguised; and spam that carries a phone number."""

from __future__ import annotations

import random

from evals.labelled.identifiers import card_number, group4, phone_344, phone_number, resident_id
from evals.labelled.model import LabelledText
from evals.labelled.spellings import ZWSP, fullwidth, zero_width


def pii(rng: random.Random) -> list[LabelledText]:
    pii = frozenset({"pii"})
    phones = [phone_number(rng) for _ in range(13)]
    ids = [resident_id(rng) for _ in range(8)]
    visa = [card_number(rng, "4", 16) for _ in range(3)]
    master = [card_number(rng, "5" + rng.choice("12345"), 16) for _ in range(2)]
    unionpay = [card_number(rng, "622202", 19) for _ in range(3)]
    amex = card_number(rng, "37", 15)
    en_plain = [
        "You can reach me at maria.lopez87@example.com any time.",
        "Send the invoice to accounts-payable@example.org please.",
        f"My number is +86 {phone_344(phones[0])}, call after six.",
        f"Ship it to me, phone {phones[1]}.",
        f"Here is my card number {group4(visa[0])}, expiry 12/29.",
        f"Charge it to {visa[1]} and email the receipt.",
        f"My Mastercard is {group4(master[0], '-')}, CVV on the back.",
        f"Use card {amex} for the hotel deposit.",
        f"My Chinese ID number is {ids[0]}, can you check it for the visa form?",
        f"Contact: tom.baker@example.net, mobile {phones[2]}",
        f"Passenger ID (China): {ids[7]}, seat 14C.",
    ]
    en_paraphrase = [
        "Call me on +1 (415) 555-0132 tonight.",
        "My social security number is 123-45-6789.",
        "Email me at j.smith at example dot com",
        "I live at 221B Baker Street, London NW1 6XE, come by after eight.",
    ]
    en_evasion = [
        f"write to jane.doe{ZWSP}@example.com",
        "mail: ｊｏｈｎ．ｗｕ＠ｅｘａｍｐｌｅ．ｃｏｍ",
        f"phone {fullwidth(phones[3])}",
        f"card {group4(visa[2], '-')}",
        f"my number is {zero_width(phones[4])}",
        "my number is one three eight, zero zero one three, eight zero zero zero",
    ]
    zh_plain = [
        "我的邮箱是 zhangwei.1990@example.com，有问题发邮件",
        f"我的手机号是{phones[5]}，有事打给我",
        f"身份证号{ids[1]}，帮我查一下社保",
        f"银行卡号 {group4(unionpay[0])}，户名李明",
        f"联系电话：{phone_344(phones[6], '-')}",
        f"收货人王芳，电话{phones[7]}，身份证{ids[2]}",
        f"我的身份证号码是{ids[3]}，帮我填一下表",
        f"转账到这张卡：{unionpay[1]}",
        f"客户的证件号是 {ids[4]}，手机 {phones[8]}",
    ]
    zh_paraphrase = [
        "我住在北京市朝阳区建国路88号3单元502室",
        "我的护照号码是E12345678",
        "手机号码是一三八零零一三八零零零",
    ]
    zh_evasion = [
        f"手机：{fullwidth(phone_344(phones[9], '-'))}",
        f"身份证：{fullwidth(ids[5])}",
        f"我的卡号 {group4(unionpay[2], '-')}",
        f"邮箱 li{ZWSP}lei@example.com",
        f"身份证号 {ids[6][:6]} {ids[6][6:14]} {ids[6][14:]}",
        f"电话 {phones[10][:3]} {phones[10][3:7]} {phones[10][7:]}，微信同号",
    ]
    items = [LabelledText(t, pii, "en", "plain") for t in en_plain]
    items += [LabelledText(t, pii, "en", "paraphrase") for t in en_paraphrase]
    items += [LabelledText(t, pii, "en", "evasion") for t in en_evasion]
    items += [LabelledText(t, pii, "zh", "plain") for t in zh_plain]
    items += [LabelledText(t, pii, "zh", "paraphrase") for t in zh_paraphrase]
    items += [LabelledText(t, pii, "zh", "evasion") for t in zh_evasion]
    # spam that carries a phone number is both
    both = frozenset({"spam", "pii"})
    items += [
        LabelledText(f"加我微信 {phones[11]}，免费领取试用装", both, "zh", "plain"),
        LabelledText(f"WhatsApp me on +86 {phone_344(phones[12])} for bulk orders", both, "en", "plain"),
    ]
    return items
