"""Illegal activity: selling contraband, how-tos, gambling and fraud, and crime news."""

from __future__ import annotations

from devtools.synthetic_moderation.model import Family

EN: tuple[Family, ...] = (
    # illegal
    Family(
        "en_illegal_sell",
        "en",
        frozenset({"illegal"}),
        (
            "selling {drug}, discreet shipping worldwide[, dm me| on {app}]",
            "where can I buy {drug} online[| without getting caught]?",
            "{illegal_good} for sale[, contact {athandle}| dm me| cheap]",
            "we sell {illegal_good}[, worldwide delivery|, payment in bitcoin]",
            "who has {drug}? need some for tonight",
            "buy {illegal_good} at {site}",
            "I can get you {drug}, {money} a gram",
            "got {illegal_good}, hit me up on {app}",
        ),
        460,
    ),
    Family(
        "en_illegal_howto",
        "en",
        frozenset({"illegal"}),
        (
            "how do I {crime_howto}?",
            "what's the easiest way to {crime_howto}?",
            "teach me how to {crime_howto}",
            "step by step guide to {crime_howto}",
            "is there a way to {crime_howto} without the police finding out?",
        ),
        420,
    ),
    Family(
        "en_illegal_lookalike",
        "en",
        frozenset(),
        (
            "what are the side effects of {medicine}?",
            "how do police detect counterfeit money?",
            "{crime_news} in {city}",
            "is it legal to own a gun in Texas?",
            "where can I buy a can of coke near me?",
            "how do I report a scam call?",
            "how do I know if a designer bag is real or fake?",
            "is weed legal in Canada?",
            "what should I do if my identity was stolen?",
            "how do banks stop money laundering?",
            "can I bring {medicine} on a plane?",
            "how do I pick a good lock for my front door?",
            "I locked myself out of my car, who do I call?",
            "how do I recover my hacked Instagram account?",
            "a documentary about the war on drugs",
            "how do I file my taxes online?",
        ),
        560,
        held_templates=5,
    ),
)

ZH: tuple[Family, ...] = (
    Family(
        "zh_illegal",
        "zh",
        frozenset({"illegal"}),
        (
            "出售{illegal_good}[，价格面议|，货到付款|，加{app}{handle}]",
            "有{drug}吗，[要{n}克|急要|今晚要]",
            "卖{drug}，[同城配送|安全发货|加{app}]",
            "怎么{crime_howto}",
            "专业{crime_howto}，[联系{phone}|私聊]",
            "代开发票，[各行业|增值税|联系{phone}]",
            "办证刻章，[一条龙|加{app}{handle}]",
            "高价收购{illegal_good}",
            "{illegal_good}批发，{price}一个",
        ),
        560,
    ),
    Family(
        "zh_gambling",
        "zh",
        frozenset({"illegal", "spam"}),
        (
            "{gamble}[平台|官网]，注册送{price}彩金[，{site}|]",
            "首充{price}送{price}，{gamble}天天返水",
            "稳赚不赔的{gamble}[计划|导师]，加{app}{handle}",
            "{gamble}，[日赚|月入]上万，[{url}|私聊]",
            "正规{gamble}，提现秒到账，{site}",
        ),
        420,
    ),
    Family(
        "zh_fraud_held",
        "zh",
        frozenset({"illegal"}),
        (
            "您的银行卡已被冻结，请点击{url}验证身份",
            "我是公安局的，你涉嫌洗钱，请把钱转到安全账户",
            "刷单返利，先垫付{price}元，立返佣金",
            "恭喜您中奖，缴纳{price}元手续费即可领取",
        ),
        220,
        holdout=True,
    ),
    Family(
        "zh_illegal_lookalike",
        "zh",
        frozenset(),
        (
            "如何辨别假币",
            "新闻：{crime_news}",
            "禁毒宣传进校园",
            "正品行货，支持专柜验货",
            "发票可以开电子的吗",
            "身份证丢了怎么补办",
            "被骗了该怎么报警",
            "{medicine}是处方药吗",
            "怎样防止电信诈骗",
            "开锁公司电话是多少，我被锁在门外了",
            "买彩票中奖了怎么领奖",
        ),
        420,
        held_templates=3,
    ),
)
