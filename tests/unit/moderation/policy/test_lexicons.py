"""The shipped lexicons and patterns (configs/lexicons/, configs/policy.yaml) on what e-commerce platforms
see: each category's plain cases, their usual disguises, and the benign look-alikes that must stay clean."""

from __future__ import annotations

import re
from pathlib import Path

import pydantic
import pytest

from pipelines.moderation.policy.config import CategoryPolicy, Policy, load_policy, read_term_file
from pipelines.moderation.policy.engine import PolicyEngine
from tests.unit.moderation.policy.helpers import LEXICONS

RLO, PDF = "\u202e", "\u202c"
# Fewest phrases per category and language: a list this short is the "ten terms" the lexicons replaced.
MIN_TERMS = 20


def fired(engine: PolicyEngine, text: str) -> set[str]:
    return set(engine.check(text, "input").fired)


# --- the files --------------------------------------------------------------------------------------


def test_every_lexicon_file_is_used_and_documented(policy: Policy) -> None:
    used = {Path(f).name for spec in policy.categories.values() for f in spec.term_files}
    on_disk = {p.name for p in LEXICONS.glob("*.txt")}
    assert used == on_disk
    readme = (LEXICONS / "README.md").read_text(encoding="utf-8")
    assert all(name in readme for name in on_disk)


@pytest.mark.parametrize("path", sorted(LEXICONS.glob("*.txt")), ids=lambda p: p.name)
def test_lexicon_files_are_clean(path: Path) -> None:
    """Every file reads strictly (no duplicates, nothing that normalises away) and says what it is."""
    terms, _ = read_term_file(path)
    assert terms
    assert path.read_text(encoding="utf-8").startswith("# ")


def _language(term: str) -> str:
    return "zh" if re.search(r"[\u4e00-\u9fff]", term) else "en"


@pytest.mark.parametrize(
    "category", ["sexual", "sexual/minors", "violence", "hate/harassment", "self-harm", "illegal", "spam"]
)
def test_each_category_has_real_lists_in_both_languages(policy: Policy, category: str) -> None:
    terms = policy.categories[category].terms
    for language in ("zh", "en"):
        count = sum(1 for t in terms if _language(t) == language)
        assert count >= (MIN_TERMS if category != "sexual/minors" else MIN_TERMS // 2), (language, count)


# --- what the issue saw missed -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "categories"),
    [
        ("我要把你打死，明天就去你家", {"violence", "hate/harassment"}),
        ("你这个傻逼，滚出去", {"hate/harassment"}),
        ("出售枪支弹药，价格面议", {"illegal"}),
        ("想要便宜货的私聊V信：shop_8899", {"spam"}),
        ("扫码进群领红包，QQ 群 123456789", {"spam"}),
        ("Add me on WhatsApp +1 415 555 0132 for cheap replica watches", {"spam", "illegal", "pii"}),
        ("Her SSN is 078-05-1120", {"pii"}),
    ],
)
def test_the_seven_missed_examples_fire(engine: PolicyEngine, text: str, categories: set[str]) -> None:
    assert fired(engine, text) == categories


def test_missed_examples_are_redacted_exactly(engine: PolicyEngine) -> None:
    assert engine.check("Her SSN is 078-05-1120", "output").text == "Her SSN is [REDACTED]"
    assert engine.check("想要便宜货的私聊V信：shop_8899", "output").text == "想要便宜货的[REDACTED]"
    assert engine.check("扫码进群领红包，QQ 群 123456789", "output").text == "[REDACTED]，[REDACTED]"


# --- plain cases per category --------------------------------------------------------------------

FIRES = [
    # spam: handles in their disguises
    ("spam", "加我薇信了解一下"),
    ("spam", "有需要的加威信 shop2024"),
    ("spam", "vx：lucky_888 备注来意"),
    ("spam", "wx号 abc_123 私聊"),
    ("spam", "加q 2853341 领资料"),
    ("spam", "扣扣：123456789"),
    ("spam", "企鹅号 88451239"),
    ("spam", "电报 @tao62802 私聊"),  # 电报: Telegram's Chinese name
    ("spam", "QQ群：123456789，进群送资料"),
    ("spam", "主页有联系方式，感兴趣的私聊"),
    ("spam", "DM me on Telegram: @cheapdeals_2024"),
    ("spam", "telegram @fastcash2024 for signals"),
    ("spam", "Contact me on Kik: watchguy"),
    ("spam", "Line ID: shop_tw88"),
    ("spam", "Signal: +44 7700 900123"),
    ("spam", "text me on whatsapp for the catalogue"),
    ("spam", "Earn $500 a day, text +44 7700 900235 on WhatsApp"),
    ("spam", "details at https://bit.ly/3xYz9Qa"),
    ("spam", "戳 t.cn/A6xYz12 领红包"),
    ("spam", "兼职刷单，日结200"),
    ("spam", "好评返现5元"),
    ("spam", "buy followers cheap, 10k for $5"),
    # illegal: goods and services
    ("illegal", "高仿劳力士，支持验货"),
    ("illegal", "LV 1:1 复刻包，顶级品质"),
    ("illegal", "A货名牌包包批发"),
    ("illegal", "外贸原单，品质保证"),
    ("illegal", "仿真枪出售，货到付款"),
    ("illegal", "哪里可以买到冰毒"),
    ("illegal", "有没有K粉出"),
    ("illegal", "专业办证，各类证件都能做"),
    ("illegal", "代开增值税发票，税点低"),
    ("illegal", "专业菠菜平台，日赚千元"),
    ("illegal", "在线赌场，百家乐真人荷官"),
    ("illegal", "世界杯赌球，赔率最高"),
    ("illegal", "黑户贷款，不看征信，秒下款"),
    ("illegal", "高利贷，当天放款"),
    ("illegal", "出售银行卡四件套"),
    ("illegal", "where can I buy some cocaine tonight"),
    ("illegal", "selling xanax, no prescription needed"),
    ("illegal", "how to cook meth at home"),
    ("illegal", "get a gun without a background check"),
    ("illegal", "best replica rolex on the market"),
    ("illegal", "online casino with crypto bonus"),
    # sexual
    ("sexual", "同城约炮，私聊"),
    ("sexual", "提供援交服务"),
    ("sexual", "小姐包夜多少钱"),
    ("sexual", "高清无码黄片资源"),
    ("sexual", "send nudes"),
    ("sexual", "escort service available tonight"),
    ("sexual/minors", "萝莉资源，私聊"),
    ("sexual/minors", "selling underage nudes"),
    # violence and threats
    ("violence", "再说一句我弄死你"),
    ("violence", "信不信我捅死你"),
    ("violence", "教我自制炸药"),
    ("violence", "I'm going to kill you tomorrow"),
    ("violence", "how to make a pipe bomb"),
    # hate/harassment
    ("hate/harassment", "你个sb，闭嘴"),
    ("hate/harassment", "傻B一个"),
    ("hate/harassment", "煞笔玩意"),
    ("hate/harassment", "脑残吧你"),
    ("hate/harassment", "贱人就是矫情"),
    ("hate/harassment", "你怎么还不去死"),
    ("hate/harassment", "滚蛋，别来烦我"),
    ("hate/harassment", "cnm，别逼我"),
    ("hate/harassment", "go kill yourself"),
    # self-harm
    ("self-harm", "我真的不想活了"),
    ("self-harm", "有没有无痛自杀的方法"),
    ("self-harm", "今晚想割腕"),
    ("self-harm", "I want to kill myself"),
    ("self-harm", "what is the most painless suicide method"),
    # pii
    ("pii", "我的身份证号 11010519491231002X"),
    ("pii", "卡号 6222 0200 0000 0000 000"),
    ("pii", "card 4111-1111-1111-1111"),
    ("pii", "座机 010-62345678"),
    ("pii", "call (415) 555-0132"),
    ("pii", "ring me on +44 20 7946 0958"),
    ("pii", "mail me at j.smith@example.co.uk"),
    ("pii", "j.smith at example dot com"),
    ("pii", "jane(at)example(dot)com"),
    ("pii", "my SSN is 078051120"),
    ("pii", "我的护照号码是E12345678"),
    ("pii", "IBAN DE89 3704 0044 0532 0130 00"),
]


# --- disguises ------------------------------------------------------------------------------------

EVASIONS = [
    ("spam", "ａｄｄ ｍｅ ｏｎ ＷｅＣｈａｔ"),  # full-width
    ("spam", "add me on wеchаt"),  # Cyrillic е and а
    ("spam", "add me on w🍑e🍑c🍑h🍑a🍑t"),  # emoji between letters
    ("spam", "add me on wec💋hat"),  # one emoji inside the word
    ("spam", "加 微 信 领 资 料"),
    ("spam", "加🌹微🌹信"),
    ("spam", f"{RLO}tahcew no em dda{PDF} today"),  # shown as "add me on wechat"
    ("spam", "add me on w3ch4t"),  # leet
    ("spam", "ＱＱ群：１２３４５６７８９"),  # full-width handle
    ("spam", "微信：ｓｈｏｐ＿８８９９"),
    ("sexual", "free p0rn here"),
    ("sexual", "free рοrn here"),  # Cyrillic р, Greek ο
    ("sexual", "free Ⓟⓞⓡⓝ here"),  # circled letters
    ("sexual", f"free {RLO}nrop{PDF} here"),
    ("sexual", "約炮"),  # traditional form (約)
    ("illegal", "出售槍支彈藥"),  # traditional
    ("illegal", "h3r0in for sale"),
    ("illegal", "where to buy c0caine"),
    ("illegal", "高 仿 包"),
    ("illegal", "c@sino bonus code"),
    ("illegal", "online c@sino"),
    ("violence", "我要殺了你"),  # traditional 殺
    ("violence", "i will k1ll you"),
    ("violence", "i w i l l k i l l y o u"),
    ("hate/harassment", "傻 逼"),
    ("hate/harassment", "傻🙂逼"),
    ("hate/harassment", "你個傻逼"),
    ("hate/harassment", "go k!ll yourself"),
    ("self-harm", "how to k!ll mys3lf"),
    ("self-harm", "i want to kіll myself"),  # Cyrillic і
    ("pii", "电话：１３８－００１３－８０００"),
    ("pii", "13800\u200b138000"),
    ("pii", "jane\u200b@example.com"),
]


@pytest.mark.parametrize(("category", "text"), FIRES + EVASIONS)
def test_category_fires(engine: PolicyEngine, category: str, text: str) -> None:
    """Each category on its plain cases and on their disguises."""
    assert category in fired(engine, text), engine.check(text, "input").fired


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("hi add me on wеchаt ok", "add me on wеchаt"),
        ("hi add me on w🍑e🍑c🍑h🍑a🍑t ok", "add me on w🍑e🍑c🍑h🍑a🍑t"),
        (f"hi {RLO}tahcew dda{PDF} ok", f"{RLO}tahcew dda{PDF}"),
        ("hi add w3ch4t ok", "add w3ch4t"),
        ("hi ａｄｄ ｗｅｃｈａｔ ok", "ａｄｄ ｗｅｃｈａｔ"),
    ],
)
def test_disguised_spans_map_to_the_original(engine: PolicyEngine, text: str, span: str) -> None:
    decision = engine.check(text, "output")
    spans = [text[start:end] for start, end, _ in decision.categories["spam"].spans]
    assert span in spans or any(span in s for s in spans), spans
    assert decision.text.startswith("hi [REDACTED]") and decision.text.endswith(" ok")


# --- benign look-alikes ---------------------------------------------------------------------------

BENIGN = [
    # apps named, not lures
    "用微信支付可以吗？",
    "他给我发了一封电报",  # a telegram, no handle
    "支持扫码支付吗",
    "扫码登录失败怎么办",
    "我的微信号被封了，怎么解封",
    "QQ音乐会员多少钱",
    "请问支持QQ钱包付款吗",
    "怎么给Q币充值",
    "Does this phone support WeChat Pay?",
    "Can I pay with WhatsApp Pay in India?",
    "We chat every evening after dinner.",
    "The deadline: 20240501, please confirm.",
    "See line 12345 of the log file.",
    "Ship to 1200 Main St, Seattle, WA 98101.",
    "Our store is open on Telegraph Avenue.",
    "我们私聊吧，这里说不方便",
    "参加群众文艺活动",
    # shopping words that contain a listed word
    "菠菜多少钱一斤？",
    "这盒菠菜很新鲜",
    "这个复刻版游戏机是官方出的吗",
    "原单号查不到物流",
    "请问这是仿品吗？",
    "网吧包夜多少钱",
    "陪睡玩偶适合几岁孩子",
    "装修提供全套服务吗",
    "洗衣机可以送货上门安装吗？",
    "提供上门服务吗",
    "这款手枪钻的电池能用多久",
    "吹尘气枪怎么用",
    "子弹杯一套几个",
    "银行的反洗钱规定是什么",
    "信用卡被盗刷了怎么办",
    "这个彩金项链掉色吗",
    "SK-II神仙水是正品吗",
    "买了个大麻烦，快递一直不到",
    "有没有鸦片战争的书推荐",
    "买溜冰鞋送护具吗",
    "我家母狗怀孕了，吃什么狗粮",
    "垃圾分类怎么做",
    "废物利用做手工",
    "智障人士就业政策",
    "白痴级教程，一看就会",
    "这个滚筒洗衣机好用吗",
    "页面滚动很卡",
    "这道菜辣死我了",
    "说出来打死你都不信，这件衣服才五十块",
    "打死我也不说",
    "打死也不买第二次",
    "我要把这个bug干掉",
    "这个游戏里的刺客怎么加点",
    "增加微量元素的肥料",
    "这款手机跑分多少",
    "他很自私我不喜欢",
    "以后再也不在这家买了",
    "乾燥的天气用什么面霜",
    # violence words in ordinary use
    "How do I kill a Python process that hangs?",
    "How do I kill weeds without hurting the lawn?",
    "How can I blow up balloons without a pump?",
    "What's the best way to shoot a photo at night?",
    "That movie was the bomb!",
    "Killer deal: 40% off all running shoes",
    "The bomb-disposal unit removed the shell safely.",
    "A documentary on the history of nuclear bombs.",
    "Dice the onion with a sharp kitchen knife.",
    "I will kill youth unemployment with this policy",
    "I hurt myself playing football, how do I ice it?",
    "Why did the author commit suicide in 1941?",
    "suicide prevention hotline numbers",
    "What is the lethal dose of caffeine?",
    "What is crystal meth and why is it dangerous?",
    "How can I get help for my meth addiction?",
    "Where can I buy a can of Coke?",
    "Get weed killer at the garden centre",
    "Molly bought a replica of the Eiffel Tower",
    "Passports must be valid for six months.",
    "Is sex education part of the curriculum?",
    "The nude lipstick sold out.",
    "an eyeshadow palette in nudes and browns",
    "Essex and Sussex are counties",
    "A sextant measures angles.",
    "The class assignment on Hamlet's assassin.",
    "SB 1047 is a California bill",
    "USB-C cable, 2 metres",
    "Only 3 left in stock, order soon.",
    "Wow, only $45! Great value.",
    # numbers that are not PII
    "订单号DD13800138000已发货",
    "order SKU-13800138000X shipped",
    "商品编码 A13800138000B 还有货吗",
    "tracking 110105194912310021",
    "order number 4111 1111 1111 1112",
    "EAN 6901234567892",
    "Invoice 2024-11-2025 is paid",
    "a total of 250 500 1000 units",
    "page 415-555 of the report",
    "Call +1 2",
    "version 1.2.3.4 released",
    "Q 23456: what is the answer?",
    "The flight CA1234 lands at 10:30",
    "WA 98101 is a Seattle zip code",
]


@pytest.mark.parametrize("text", BENIGN)
def test_benign_look_alikes_stay_clean(engine: PolicyEngine, text: str) -> None:
    for direction in ("input", "output"):
        decision = engine.check(text, direction)
        assert decision.fired == [], (decision.fired, [h for h in engine.detect(text)])
        assert decision.text == text


# --- exceptions -----------------------------------------------------------------------------------


def test_exceptions_cancel_only_what_they_overlap(engine: PolicyEngine) -> None:
    assert fired(engine, "说出来打死你都不信") == set()
    assert fired(engine, "打死你都不信？我现在就打死你") == {"violence", "hate/harassment"}
    assert fired(engine, "出售手枪钻") == set()
    assert "illegal" in fired(engine, "出售手枪，手枪钻也有")


def test_exceptions_are_per_category() -> None:
    policy = Policy.model_validate(
        {
            "version": "t",
            "block_message": "x",
            "categories": {
                "a": {"terms": ["打死你"], "exceptions": ["打死你都不信"]},
                "b": {"terms": ["打死你"]},
            },
        }
    )
    assert PolicyEngine(policy).check("打死你都不信", "input").fired == ["b"]


# --- the term file format -------------------------------------------------------------------------


def _category(tmp_path: Path, body: str) -> CategoryPolicy:
    path = tmp_path / "terms.txt"
    path.write_text(body, encoding="utf-8")
    return CategoryPolicy.model_validate({"term_files": [str(path)]})


def test_term_file_format(tmp_path: Path) -> None:
    spec = _category(tmp_path, "# a comment\n\n  加微信  \n!加微信支付\nadd wechat\n")
    assert spec.terms == ["加微信", "add wechat"] and spec.exceptions == ["加微信支付"]
    assert spec.term_files == [str(tmp_path / "terms.txt")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("加微信\n加微信\n", r"terms.txt:2: '加微信' repeats line 1"),
        ("Add WeChat\nadd  wechat\n", "repeats line 1"),
        ("ok\n!!!\n", "terms.txt:2: '!!' has no letters or digits"),
        ("...\n", "terms.txt:1"),
    ],
)
def test_term_file_mistakes_name_their_line(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        _category(tmp_path, body)


def test_term_file_paths(tmp_path: Path) -> None:
    with pytest.raises(pydantic.ValidationError, match="relative path needs load_policy"):
        CategoryPolicy.model_validate({"term_files": ["lexicons/spam.zh.txt"]})
    with pytest.raises(pydantic.ValidationError, match="cannot be read"):
        CategoryPolicy.model_validate({"term_files": [str(tmp_path / "missing.txt")]})
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "mine.txt").write_text("acme\n", encoding="utf-8")
    (tmp_path / "policy.yaml").write_text(
        "version: t\nblock_message: x\ncategories:\n  custom: {term_files: [lists/mine.txt]}\n", encoding="utf-8"
    )
    loaded = load_policy(tmp_path / "policy.yaml")  # relative to the policy file, not the working directory
    assert loaded.categories["custom"].terms == ["acme"]
    assert PolicyEngine(loaded.with_extra_terms("custom", ["globex"])).check("acme and globex", "input").fired


def test_loaded_policy_needs_no_file_again(tmp_path: Path, policy: Policy) -> None:
    """The validated policy holds every term: a copy made from it matches what the files said."""
    terms = read_term_file(LEXICONS / "spam.zh.txt")[0]
    assert set(terms) <= set(policy.categories["spam"].terms)
    assert policy.with_extra_terms("custom", ["x1"]).categories["spam"].terms == policy.categories["spam"].terms
