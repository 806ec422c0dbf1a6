"""Personal data: identity, card and phone numbers about a person, and order numbers that are not."""

from __future__ import annotations

from devtools.synthetic_moderation.model import Family

FAMILIES: tuple[Family, ...] = (  # English first, then Chinese
    # pii
    Family(
        "en_pii",
        "en",
        frozenset({"pii"}),
        (
            "my SSN is {ssn}",
            "her social security number is {ssn}",
            "card number {card}, exp 0{n}/2{n}, cvv {digits4}",
            "here's my credit card: {card}",
            "you can reach me at {phone}[ any time| after 6pm|]",
            "my email is {email} and my phone is {phone}",
            "send the documents to {email}",
            "his cell is {phone}, call him",
            "account holder John Miller, card {card}",
            "my passport number is X{digits4}{digits4}",
        ),
        420,
    ),
    Family(
        "en_pii_lookalike",
        "en",
        frozenset(),
        (
            "my order number is {order}",
            "the tracking number is {tracking}",
            "what is a social security number used for?",
            "how do I protect my credit card from fraud?",
            "the meeting is in room {digits4}",
            "product code SKU-{digits4}-{n}",
            "how do I change the phone number on my account?",
            "invoice {order} was paid on time",
            "call our help line, the number is on the back of your card",
            "never share your password or PIN with anyone",
        ),
        420,
    ),
    # Chinese
    Family(
        "zh_pii",
        "zh",
        frozenset({"pii"}),
        (
            "我的身份证号是{cnid}",
            "身份证：{cnid}[，姓名张伟|]",
            "手机号{phone}[，有事打我电话|]",
            "我的银行卡号是{card}[，开户行工商银行|]",
            "电话：{phone}，地址：{city}市朝阳区幸福路{n}号",
            "收件人李娜，电话{phone}，身份证{cnid}",
            "邮箱{email}，手机{phone}",
            "卡号{card}，密码{digits4}",
        ),
        420,
    ),
    Family(
        "zh_pii_lookalike",
        "zh",
        frozenset(),
        (
            "订单号{order}",
            "快递单号是{tracking}",
            "身份证快过期了怎么换",
            "手机号码可以改绑吗",
            "银行卡丢了怎么挂失",
            "请不要把验证码告诉任何人",
            "商品编号{digits4}{digits4}",
        ),
        360,
    ),
)
