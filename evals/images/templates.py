"""The lines images carry: ads, contact handles, ID numbers, benign labels, QR payloads."""

from __future__ import annotations

import random
from collections.abc import Callable

from evals.labelled import card_number, group4, phone_344, phone_number, resident_id

# --- line templates ---------------------------------------------------------------------------------

Template = Callable[[random.Random], str]

_HANDLE_WORDS = ("shop", "bag", "lucky", "vip", "outlet", "mall", "star", "amy", "kk", "best", "good", "tao")


def handle(rng: random.Random) -> str:
    """A contact handle as sellers write them: a word, digits, sometimes an underscore or a second word."""
    word = rng.choice(_HANDLE_WORDS)
    if rng.random() < 0.4:
        word += rng.choice(("_", "")) + rng.choice(_HANDLE_WORDS)
    return word + str(rng.randint(10, 99999))


def qq_number(rng: random.Random) -> str:
    return str(rng.randint(10_000_000, 3_999_999_999))


def us_phone(rng: random.Random) -> str:
    return f"+1 {rng.randint(201, 989)} 555 {rng.randint(100, 199):04d}"


def uk_phone(rng: random.Random) -> str:
    return f"+44 7700 900{rng.randint(0, 999):03d}"


def ean13(rng: random.Random) -> str:
    """A GS1 EAN-13 number with a valid check digit (Chinese prefix 690-699)."""
    body = str(rng.randint(690, 699)) + "".join(rng.choice("0123456789") for _ in range(9))
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


AD_ZH: tuple[Template, ...] = (
    lambda r: f"加微信 {handle(r)} 高仿包",
    lambda r: f"扫码进群领红包 QQ群 {qq_number(r)}",
    lambda r: f"一手货源 加V：{handle(r)}",
    lambda r: "原单大牌 私聊领取优惠券",
    lambda r: f"兼职刷单 日赚500 加QQ {qq_number(r)}",
    lambda r: f"低价代购 微信 {handle(r)} 包邮",
    lambda r: f"工厂直销 加我微信 {handle(r)} 拿批发价",
    lambda r: f"福利群 电报群 t.me/{handle(r)}",
    lambda r: f"限时特惠 仅需99元！！ 加微信 {handle(r)}",
    lambda r: f"奢侈品A货 微信号 {handle(r)}",
)
AD_EN: tuple[Template, ...] = (
    lambda r: f"WhatsApp {us_phone(r)} cheap watches",
    lambda r: f"Replica bags 90% off, add WeChat {handle(r)}",
    lambda r: f"Join our Telegram group for free gifts t.me/{handle(r)}",
    lambda r: f"DM me on Telegram @{handle(r)} for wholesale prices",
    lambda r: "Only $9.99!!! Order now before it's gone",
    lambda r: f"Earn $500 a day, text {uk_phone(r)} on WhatsApp",
    lambda r: f"Add me on WeChat {handle(r)} for the real price",
    lambda r: f"Cheap designer shoes, WhatsApp me {us_phone(r)}",
    lambda r: f"Factory direct, contact wa.me/1415555{r.randint(1000, 9999)}",
    lambda r: f"Free sample! Scan and add QQ {qq_number(r)}",
)
CONTACT_ZH: tuple[Template, ...] = (
    lambda r: f"微信号：{handle(r)}",
    lambda r: f"VX：{handle(r)}",
    lambda r: f"QQ：{qq_number(r)}",
    lambda r: f"客服微信 {handle(r)}",
    lambda r: f"电报 @{handle(r)}",
    lambda r: f"添加好友 微信 {handle(r)}",
    lambda r: f"联系我 wx：{handle(r)}",
    lambda r: f"QQ群号 {qq_number(r)}",
)
CONTACT_EN: tuple[Template, ...] = (
    lambda r: f"WeChat ID: {handle(r)}",
    lambda r: f"WhatsApp: {us_phone(r)}",
    lambda r: f"Telegram: @{handle(r)}",
    lambda r: f"t.me/{handle(r)}",
    lambda r: f"Line ID: {handle(r)}",
    lambda r: f"wa.me/4477009{r.randint(10000, 99999)}",
    lambda r: f"QQ: {qq_number(r)}",
    lambda r: f"Contact on WeChat {handle(r)}",
)
ID_ZH: tuple[Template, ...] = (
    lambda r: f"身份证号：{resident_id(r)}",
    lambda r: f"公民身份号码 {resident_id(r)}",
    lambda r: f"手机：{phone_344(phone_number(r))}",
    lambda r: f"联系电话 {phone_number(r)}",
    lambda r: f"银行卡号 {group4(card_number(r, '622202', 19))}",
    lambda r: f"收货人 张三 {phone_number(r)}",
)
ID_EN: tuple[Template, ...] = (
    lambda r: f"ID No. {resident_id(r)}",
    lambda r: f"Phone: +86 {phone_344(phone_number(r))}",
    lambda r: f"Mobile {phone_number(r)}",
    lambda r: f"Card {group4(card_number(r, '4', 16))}",
    lambda r: f"Call {phone_344(phone_number(r), '-')}",
    lambda r: f"Resident ID {resident_id(r)}",
)
LABEL_ZH: tuple[Template, ...] = (
    lambda r: f"净含量 {r.choice((250, 500, 750, 1000))}g 保质期 {r.choice((6, 12, 18, 24))}个月",
    lambda r: "配料：水、白砂糖、柠檬酸、食用香精",
    lambda r: r.choice(("产地：浙江杭州", "产地：广东深圳", "产地：山东青岛")),
    lambda r: f"生产日期 2025-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    lambda r: "贮存条件：阴凉干燥处",
    lambda r: f"纯棉短袖T恤 {r.choice(('白色', '黑色', '藏青'))} {r.choice('SMLX')}码",
    lambda r: f"价格 ¥{r.randint(9, 999)}.{r.choice(('00', '90', '99'))}",
    lambda r: f"限时特价 ¥{r.randint(9, 99)}.9",
    lambda r: "执行标准 GB/T 22849",
    lambda r: "客服热线 400-820-8820",
    lambda r: "成分：棉100%",
    lambda r: "洗涤方式：手洗 不可漂白",
    lambda r: "新品上市 买一送一",
    lambda r: f"条码 {ean13(r)}",
    lambda r: f"不锈钢保温杯 {r.choice((350, 500, 750))}ml",
)
LABEL_EN: tuple[Template, ...] = (
    lambda r: f"100% cotton, machine wash {r.choice((30, 40))}°C",
    lambda r: f"Net wt. {r.choice((250, 500, 750))} g",
    lambda r: f"Best before {r.randint(1, 12):02d}/2026",
    lambda r: "Ingredients: water, sugar, citric acid, natural flavour",
    lambda r: f"Price ${r.randint(5, 199)}.{r.choice(('00', '49', '99'))}",
    lambda r: f"SALE {r.choice((10, 20, 30, 50))}% OFF",
    lambda r: "Made in China",
    lambda r: f"Size {r.choice('SMLX')} / Colour {r.choice(('navy', 'white', 'black', 'olive'))}",
    lambda r: f"Stainless steel water bottle {r.choice((500, 750))} ml",
    lambda r: "Store in a cool, dry place",
    lambda r: "Do not bleach. Tumble dry low.",
    lambda r: f"Model KX-{r.randint(100, 9999)} 220V~50Hz {r.choice((800, 1200, 2000))}W",
    lambda r: f"Batch 2025{r.randint(1, 12):02d}{r.randint(1, 28):02d}",
    lambda r: "Keep out of reach of children",
    lambda r: f"EAN {ean13(r)}",
)
TEXT_TEMPLATES: dict[str, tuple[Template, ...]] = {
    "ad/zh": AD_ZH,
    "ad/en": AD_EN,
    "contact/zh": CONTACT_ZH,
    "contact/en": CONTACT_EN,
    "id_number/zh": ID_ZH,
    "id_number/en": ID_EN,
    "label/zh": LABEL_ZH,
    "label/en": LABEL_EN,
}
QR_CONTACT: tuple[Template, ...] = (
    lambda r: f"https://wa.me/1415555{r.randint(1000, 9999)}",
    lambda r: f"https://api.whatsapp.com/send?phone=4477009{r.randint(10000, 99999)}",
    lambda r: f"https://chat.whatsapp.com/{_token(r, 22)}",
    lambda r: f"https://t.me/{handle(r)}",
    lambda r: f"tg://resolve?domain={handle(r)}",
    lambda r: f"https://telegram.me/{handle(r)}",
    lambda r: f"weixin://dl/chat?{handle(r)}",
    lambda r: f"https://u.wechat.com/{_token(r, 24)}",
    lambda r: f"http://weixin.qq.com/r/{_token(r, 20)}",
    lambda r: f"https://qm.qq.com/q/{_token(r, 10)}",
    lambda r: f"https://jq.qq.com/?_wv=1027&k={_token(r, 8)}",
    lambda r: f"https://line.me/ti/p/{_token(r, 10)}",
    lambda r: f"https://bit.ly/{_token(r, 7)}",
    lambda r: f"http://t.cn/{_token(r, 7)}",
    lambda r: f"https://tinyurl.com/{_token(r, 8)}",
    lambda r: f"https://is.gd/{_token(r, 6)}",
)
QR_BENIGN: tuple[Template, ...] = (
    lambda r: f"https://www.example.com/product/{r.randint(10000, 99999)}",
    lambda r: f"https://shop.example.org/item?id={r.randint(100000, 999999)}&ref=label",
    lambda r: f"SN:{_token(r, 5).upper()}-{r.randint(10000, 99999)}",
    lambda r: "Thank you for your purchase. Care: machine wash 30C.",
    lambda r: f"https://example.net/manuals/KX-{r.randint(100, 9999)}.pdf",
    lambda r: "感谢您的购买，请妥善保管保修卡",
    lambda r: f"https://www.example.cn/trace?batch=2025{r.randint(1, 12):02d}{r.randint(1, 28):02d}",
)

_TOKEN_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _token(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_TOKEN_ALPHABET) for _ in range(length))
