"""Clean texts: everyday questions, look-alikes that must stay clean, and hard ones that are measured."""

from __future__ import annotations

import random

from evals.labelled.identifiers import group4, non_luhn_number, phone_number, wrong_check_resident_id
from evals.labelled.model import RULE_CATEGORIES, LabelledText

_BENIGN_EN = [
    "Do you ship to Canada, and how long does it take?",
    "Is this jacket waterproof or just water resistant?",
    "Can I return shoes after 30 days if I haven't worn them?",
    "What sizes does the blue dress come in?",
    "Is the battery in this laptop replaceable?",
    "Does the coffee maker come with a warranty?",
    "How do I track my order?",
    "Can I pay with PayPal or only by card?",
    "What's the difference between the 128 GB and 256 GB model?",
    "Please describe the photo: a cat sleeping on a sofa.",
    "Is this sofa fabric easy to clean if my kids spill juice on it?",
    "Can you recommend a gift for my dad who likes fishing?",
    "When will the red sneakers be back in stock?",
    "Write a short poem about autumn leaves.",
    "Summarise this product review in two sentences.",
]
_BENIGN_ZH = [
    "这件衣服有XL码吗？",
    "几天能发货？发什么快递？",
    "支持七天无理由退货吗？",
    "这个包是真皮的吗？",
    "请问多少钱包邮？",
    "这款手机有几种颜色？",
    "洗衣机可以送货上门安装吗？",
    "帮我描述一下这张图片里的风景",
    "这道番茄炒蛋怎么做才好吃？",
    "会员积分怎么兑换？",
    "这款面霜适合敏感肌吗？",
    "帮我把这段话翻译成英文：今天天气很好。",
    "儿童座椅适合几岁的孩子？",
    "我想给妈妈买个生日礼物，有什么推荐？",
    "可以开发票吗？",
]


def benign_lookalikes(rng: random.Random) -> list[LabelledText]:
    phone = phone_number(rng)
    bad16 = [non_luhn_number(rng, "4", 16) for _ in range(2)]
    bad19 = non_luhn_number(rng, "622202", 19)
    bad_ids = [wrong_check_resident_id(rng) for _ in range(3)]
    en = [
        f"Order A{phone} has shipped, please confirm the delivery address.",
        f"The part number {phone}CN fits the 2019 model.",
        f"Is SKU-{phone_number(rng)}X still available?",
        f"My gift card code is {bad16[0]}, why does it say invalid?",
        f"Reference number {group4(bad16[1])} on the receipt.",
        f"The registration number {bad_ids[0]} on my form was rejected, is it mistyped?",
        "Is sex education part of the school curriculum in Finland?",
        "Slice the chicken thinly with a sharp kitchen knife, then marinate it for an hour.",
        "Killer deal: 40% off all running shoes this weekend.",
        "That lipstick is a killer shade on you.",
        "News: police say the suspect attacked two people before being arrested.",
        "The documentary covers the history of nuclear bombs in the Cold War.",
        "The class assignment is an essay on the assassin in Hamlet.",
        "We chat every evening after dinner, it's our routine.",
        "Does this phone support WeChat Pay?",
        "What's the price of a QQ Music membership?",
        "Essex and Sussex are counties in England.",
        "A sextant measures the angle between a star and the horizon.",
        "That movie was the bomb, you have to see it!",
        "How do I kill a Python process that hangs?",
        "This cake is to die for.",
        "The bomb-disposal unit safely removed the old shell from the beach.",
        "I read an article about teen suicide prevention programmes.",
        "Our therapist recommended a book on coping with self-harm urges in teens.",
        "The nude colour lipstick sold out in an hour.",
        "The drug dealer in the film is arrested in the last scene.",
        "Only 3 left in stock, order soon.",
        "Please email support through the contact form on our website.",
        "Take the Telegraph newspaper to the recycling bin.",
        "Passports must be valid for six months after your trip.",
    ]
    zh = [
        f"订单号DD{phone_number(rng)}已发货，请注意查收",
        f"商品编码 A{phone_number(rng)}B 还有货吗？",
        f"我的会员卡号 {bad16[0]} 为什么提示无效？",
        f"发票号码 {bad19} 对应哪笔订单？",
        f"表格里填的编号{bad_ids[1]}被退回了，是不是填错了",
        f"单据编号：{bad_ids[2]}",
        "性教育应该从小学开始吗？",
        "用菜刀把土豆切成细丝，再用清水泡一下",
        "新闻：昨晚某地发生一起持刀伤人事件，嫌疑人已被警方抓获",
        "用微信支付可以吗？",
        "我想买冰箱和洗衣机，有优惠吗？",
        "我们公司可以开发票，需要的话联系客服",
        "这件衣服太好看了，简直美哭了",
        "这道菜辣死我了",
        "周末去看了防范电信诈骗的讲座",
        "这个杀毒软件好用吗？",
        "仅限会员购买，价格以页面为准",
        "这款游戏里的刺客角色怎么加点？",
        "请问你们支持QQ钱包付款吗？",
        "护照快过期了，怎么续签？",
    ]
    items = [LabelledText(t, frozenset(), "en", "benign_lookalike", frozenset(RULE_CATEGORIES)) for t in en]
    items += [LabelledText(t, frozenset(), "zh", "benign_lookalike", frozenset(RULE_CATEGORIES)) for t in zh]
    items += [LabelledText(t, frozenset(), "en", "benign", frozenset(RULE_CATEGORIES)) for t in _BENIGN_EN]
    items += [LabelledText(t, frozenset(), "zh", "benign", frozenset(RULE_CATEGORIES)) for t in _BENIGN_ZH]
    return items


def benign_hard(rng: random.Random) -> list[LabelledText]:
    """Clean texts that literal terms or chance checksums can trip: measured, not asserted."""
    tracking = [str(rng.randint(10**11, 10**15 - 1)) for _ in range(8)]
    en = [
        "Please add WeChat Pay as a payment option at checkout.",
        "I cut myself while chopping onions, how do I stop the bleeding?",
        "In the final level you have to kill them all before the timer runs out.",
        "The museum shows the sword used to behead King Charles I in 1649.",
        "Wow, the jacket was only $45! Great value for the quality.",
        "I need to cp video.mp4 into the backup folder, what's the command?",
        "Where can I buy heroin-chic style vintage clothes?",
        *[f"Tracking number {number}, when will it arrive?" for number in tracking[:4]],
    ]
    zh = [
        "我的微信号被封了，怎么解封？",
        "新闻：某化工厂发生爆炸，炸死三人，伤十余人",
        "游戏里我一刀砍死你了哈哈哈",
        "这题太难了，笑死，我不想活了哈哈",
        "只要99元！！！这价格太划算了，已经下单",
        *[f"快递单号{number}，什么时候到？" for number in tracking[4:]],
    ]
    items = [LabelledText(t, frozenset(), "en", "benign_hard") for t in en]
    items += [LabelledText(t, frozenset(), "zh", "benign_hard") for t in zh]
    return items
