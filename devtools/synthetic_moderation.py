"""Synthetic training text for the categories the moderation corpus lacks, written by this project.

The corpus (``shared/datasets/moderation-train``) has Chinese group offence (COLD), illegal-activity
questions (JADE), English tweets (Davidson), English spam comments (YouTube) and US/EU PII templates,
and next to nothing for sexual content, self-harm, threats, Chinese ads and lures, Chinese PII,
insults aimed at one person, or the benign look-alikes that make a moderation model over-block
("How do I kill a mosquito?", "秒杀活动", sex education). This module writes them.

How it varies: each :class:`Family` is a set of templates in one language with one label set.
Templates mix inline alternatives (``[a|b|]``, the empty one makes a part optional) and slots
(``{insult}``) filled from word pools, recursively; numbers, handles, prices, phone numbers and ids are
drawn fresh. Each text is then perturbed (case, punctuation, interjections, emoji, a benign sentence
around it), so no surface form repeats often enough to be learnt instead of the concept.

Every positive family has look-alike benign families built from the same words in harmless senses,
so a word (``kill``, ``杀``, ``sex``, ``微信``) never decides alone.

Families marked ``holdout`` are never trained on: the trainer puts them in the validation split to
measure generalisation to phrasings the model has not seen (a held-out row of a *seen* family is weak
evidence: its template leaked). Everything is deterministic for a given seed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

Slot = tuple[str, ...] | Callable[[random.Random], str]

_SLOT = re.compile(r"\{([a-z_0-9]+)\}")
_ALTERNATIVES = re.compile(r"\[([^\[\]]*)\]")
_MAX_DEPTH = 6


@dataclass(frozen=True)
class Family:
    name: str
    lang: str  # en | zh
    labels: frozenset[str]  # policy categories; empty for benign
    templates: tuple[str, ...]
    count: int
    holdout: bool = False  # never trained on: validation of unseen phrasings
    held_templates: int = 0  # the last N templates form a never-trained sub-family "<name>_held"

    def split(self) -> tuple[Family, ...]:
        """The family itself, or its trained part and its held-out part (``held_templates``)."""
        if not self.held_templates:
            return (self,)
        cut = len(self.templates) - self.held_templates
        share = max(1, round(self.count * self.held_templates / len(self.templates)))
        trained = Family(self.name, self.lang, self.labels, self.templates[:cut], self.count - share, self.holdout)
        held = Family(f"{self.name}_held", self.lang, self.labels, self.templates[cut:], share, holdout=True)
        return trained, held


@dataclass(frozen=True)
class SyntheticText:
    text: str
    lang: str
    labels: frozenset[str]
    family: str
    holdout: bool


# --- drawn values -----------------------------------------------------------------------------------


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


# --- word pools -------------------------------------------------------------------------------------

SLOTS_EN: dict[str, Slot] = {
    "phone": _us_phone,
    "premium": _uk_premium,
    "short": _short_code,
    "handle": _handle,
    "athandle": _at_handle,
    "url": _short_url,
    "site": _site,
    "money": _money_en,
    "card": _card,
    "ssn": _ssn,
    "order": _order_no,
    "tracking": _tracking,
    "minor_age": _age_minor,
    "adult_age": _age_adult,
    "email": _email,
    "n": _count,
    "digits4": lambda rng: _digits(rng, 4),
    "you": ("you", "you", "u", "ya"),
    "insult": (
        "idiot",
        "moron",
        "retard",
        "loser",
        "piece of shit",
        "dumbass",
        "bitch",
        "cunt",
        "asshole",
        "worthless pig",
        "fat slob",
        "ugly freak",
        "pathetic waste of space",
        "brainless clown",
        "scumbag",
        "dickhead",
        "stupid cow",
        "little rat",
        "disgusting creep",
        "failure",
        "pig",
        "dumb fuck",
    ),
    "insult_adj": (
        "stupid",
        "worthless",
        "pathetic",
        "disgusting",
        "ugly",
        "useless",
        "brainless",
        "fat",
        "dumb",
        "retarded",
        "braindead",
        "miserable",
        "spineless",
    ),
    "group": (
        "women",
        "immigrants",
        "Muslims",
        "Jews",
        "black people",
        "gay people",
        "trans people",
        "Mexicans",
        "Asians",
        "Chinese people",
        "refugees",
        "disabled people",
        "Arabs",
        "lesbians",
        "Indians",
        "Christians",
        "Roma",
        "Africans",
        "Latinos",
        "old people",
        "Native Americans",
    ),
    "group_member": (
        "woman",
        "immigrant",
        "Muslim",
        "Jew",
        "black man",
        "gay man",
        "trans woman",
        "Mexican",
        "Asian woman",
        "refugee",
        "disabled person",
        "Arab",
        "lesbian",
        "Indian guy",
    ),
    "dehuman": (
        "animals",
        "vermin",
        "rats",
        "parasites",
        "cockroaches",
        "subhuman",
        "a disease",
        "savages",
        "filth",
        "trash",
        "a plague",
        "scum",
        "monkeys",
        "garbage",
    ),
    "neg_trait": (
        "stupid",
        "lazy",
        "dirty",
        "criminals",
        "liars",
        "disgusting",
        "inferior",
        "worthless",
        "dangerous",
        "thieves",
        "a burden on society",
        "too dumb to vote",
        "less than human",
    ),
    "group_harm": (
        "deported",
        "wiped out",
        "locked up",
        "exterminated",
        "gassed",
        "shot on sight",
        "banned from this country",
        "kicked out",
        "sterilised",
        "hanged",
        "thrown out of our schools",
        "put in camps",
    ),
    "kill_verb": ("kill", "murder", "stab", "shoot", "strangle", "slit the throat of", "beat to death", "choke"),
    "threat_verb": (
        "kill you",
        "cut you",
        "break your legs",
        "burn your house down",
        "put a bullet in your head",
        "beat you until you can't walk",
        "stab you",
        "make you bleed",
        "end you",
        "slit your throat",
        "hunt you down",
        "smash your face in",
        "shoot you",
    ),
    "weapon": ("a knife", "a gun", "a machete", "a baseball bat", "a hammer", "an axe", "a rifle", "a crowbar"),
    "victim": (
        "my neighbour",
        "my boss",
        "my ex",
        "my wife",
        "my husband",
        "my teacher",
        "that guy",
        "my coworker",
        "my stepdad",
        "a stranger",
        "my classmate",
        "the cashier",
        "my landlord",
    ),
    "mass_target": (
        "the school",
        "the mall",
        "a concert",
        "the mosque",
        "the synagogue",
        "the church",
        "the office",
        "the subway",
    ),
    "bomb": (
        "a pipe bomb",
        "a bomb",
        "an IED",
        "a molotov cocktail",
        "explosives",
        "a nail bomb",
        "napalm",
        "ricin",
        "nerve gas",
    ),
    "harmless_kill": (
        "a mosquito",
        "the weeds in my garden",
        "a python process",
        "the process on port 8080",
        "a zombie process",
        "mold in the shower",
        "fruit flies",
        "the lights",
        "time at the airport",
        "the engine",
        "a docker container",
        "bacteria on a cutting board",
        "ants in the kitchen",
        "the background app",
        "an idle ssh session",
    ),
    "harmless_shoot": (
        "a photo in low light",
        "a portrait",
        "hoops",
        "a music video",
        "a wedding",
        "the breeze",
        "pool",
        "a short film",
    ),
    "drug": (
        "cocaine",
        "heroin",
        "meth",
        "crystal meth",
        "fentanyl",
        "MDMA",
        "ecstasy pills",
        "LSD",
        "ketamine",
        "crack",
        "oxy without a prescription",
        "xanax bars",
        "molly",
        "shrooms",
        "weed",
    ),
    "medicine": (
        "ibuprofen",
        "paracetamol",
        "amoxicillin",
        "melatonin",
        "insulin",
        "vitamin D",
        "antihistamines",
        "aspirin",
    ),
    "illegal_good": (
        "fake passports",
        "fake driver's licenses",
        "counterfeit 100 dollar bills",
        "cloned credit cards",
        "stolen credit card numbers",
        "untraceable guns",
        "unregistered handguns",
        "ghost guns",
        "fake diplomas",
        "replica Rolex watches",
        "counterfeit Louis Vuitton bags",
        "hacked Netflix accounts",
        "stolen iPhones",
        "CVV dumps",
        "forged visas",
        "fake vaccine cards",
        "full-auto conversion kits",
    ),
    "crime_howto": (
        "launder money through a small business",
        "hotwire a car",
        "pick a lock to get into my neighbour's house",
        "hack into my ex's Instagram",
        "steal a credit card number online",
        "cook meth at home",
        "shoplift without getting caught",
        "evade taxes with offshore accounts",
        "make a fake ID",
        "smuggle drugs through an airport",
        "forge a signature on a check",
        "scam old people on the phone",
        "get a gun without a background check",
        "break into a car without the key",
        "run a phishing site",
        "skim cards at an ATM",
    ),
    "sex_act": (
        "fuck you",
        "fuck you hard",
        "suck your cock",
        "eat your pussy",
        "ride your dick",
        "make you cum",
        "bend you over",
        "lick you all over",
        "have sex with you",
        "fuck your brains out",
        "go down on you",
        "fuck you from behind",
        "cum on your face",
        "tie you up and fuck you",
    ),
    "body_sexual": ("tits", "boobs", "pussy", "dick", "cock", "ass", "nipples", "naked body", "nudes"),
    "sex_scene": (
        "pulled off her panties and spread her legs",
        "unzipped his jeans and pushed her down on the bed",
        "moaned as he slid inside her",
        "grabbed his hard cock",
        "kissed her way down to her wet pussy",
        "stripped naked and climbed on top of him",
        "started fucking her harder",
        "came all over her breasts",
        "licked her nipples until she moaned",
        "took his throbbing cock in her mouth",
    ),
    "sex_who": (
        "she",
        "he",
        "the nurse",
        "my stepsister",
        "the neighbour",
        "the teacher",
        "my girlfriend",
        "the stranger",
        "her boss",
    ),
    "minor": (
        "{minor_age} year old girls",
        "{minor_age} year old boys",
        "underage girls",
        "underage boys",
        "little girls",
        "little boys",
        "kids",
        "middle school girls",
        "a {minor_age}yo",
        "children",
        "preteens",
        "young teens under {minor_age}",
        "my {minor_age} year old niece",
        "schoolgirls under 16",
    ),
    "minor_sexual": (
        "nude pics of",
        "naked videos of",
        "porn with",
        "sexy photos of",
        "sex videos with",
        "explicit pictures of",
    ),
    "pill": ("pills", "sleeping pills", "tylenol", "paracetamol tablets", "xanax", "insulin", "antidepressants"),
    "selfharm_method": (
        "cut myself",
        "slit my wrists",
        "hang myself",
        "overdose",
        "jump off a bridge",
        "starve myself",
        "burn myself",
        "drown myself",
        "shoot myself",
    ),
    "sad_reason": (
        "nobody would miss me",
        "everything is pointless",
        "I'm a burden to everyone",
        "I can't take it anymore",
        "I hate my life",
        "I'm so tired of everything",
        "no one cares",
        "I've failed at everything",
    ),
    "prize": (
        "a £1000 cash prize",
        "a brand new iPhone",
        "a free cruise",
        "a $500 Walmart gift card",
        "2 free tickets",
        "a guaranteed £2000 award",
        "a Samsung Galaxy",
        "free ringtones",
        "a luxury holiday",
        "bonus credits",
    ),
    "spam_product": (
        "cheap replica watches",
        "designer bags at 90% off",
        "weight loss pills",
        "viagra",
        "cheap followers",
        "a crypto signals group",
        "forex tips",
        "loans with no credit check",
        "cheap iPhones",
        "discount sneakers",
        "instagram likes",
        "an online casino bonus",
    ),
    "app": ("WhatsApp", "Telegram", "WeChat", "Signal", "Kik", "Snapchat", "Line", "Viber"),
    "product": (
        "jacket",
        "backpack",
        "pair of running shoes",
        "laptop stand",
        "coffee grinder",
        "phone case",
        "desk lamp",
        "winter coat",
        "yoga mat",
        "rice cooker",
        "bluetooth speaker",
        "tote bag",
        "pair of jeans",
        "kettle",
    ),
    "color": ("black", "navy", "red", "white", "olive", "grey", "beige"),
    "size": ("small", "medium", "large", "XL", "size 42", "size 9"),
    "friend": ("mom", "dad", "Sam", "Jess", "my sister", "the kids", "Alex", "grandma", "babe", "dude"),
    "place": ("the station", "home", "the gym", "the office", "Tesco", "the cinema", "the park", "school", "the mall"),
    "time": ("tonight", "tomorrow", "at 6", "after work", "this weekend", "on Friday", "in ten minutes", "later"),
    "food": ("pizza", "sushi", "tacos", "dinner", "lunch", "coffee", "curry", "noodles"),
    "profanity": (
        "fuck",
        "shit",
        "damn",
        "holy shit",
        "fucking hell",
        "goddamn",
        "bloody hell",
        "oh crap",
        "hell yeah",
        "fuck me",
    ),
    "profane_adj": ("fucking", "damn", "bloody", "freaking", "goddamn"),
    "hard_thing": (
        "that exam",
        "this week",
        "the hike",
        "the final level",
        "that meeting",
        "my shift",
        "the drive home",
        "the interview",
        "this deadline",
        "moving house",
        "the marathon",
        "that boss fight",
    ),
    "good_thing": (
        "this burger",
        "the concert",
        "that goal",
        "the view",
        "this album",
        "the new update",
        "her solo",
        "that game",
    ),
    "crime_news": (
        "a man was arrested after a stabbing",
        "two people were shot",
        "police seized 40 kg of cocaine",
        "a bank was robbed",
        "a gang selling fake passports was broken up",
        "a teenager was charged with murder",
        "a fraud ring that scammed pensioners was jailed",
        "a bomb threat closed the airport",
    ),
    "benign_task": (
        "make sourdough bread",
        "fix a leaking tap",
        "reset my router",
        "learn Python quickly",
        "get rid of a cold",
        "change a flat tyre",
        "write a cover letter",
        "clean a cast iron pan",
        "improve my credit score",
        "train a puppy",
        "start running again after an injury",
        "apply for a passport",
        "back up my phone",
        "negotiate a pay rise",
        "grow tomatoes on a balcony",
        "remove a red wine stain",
        "study for the bar exam",
        "save money on groceries",
        "cancel a gym membership",
        "set up two-factor authentication",
        "stop procrastinating",
        "make friends in a new city",
        "sleep better",
        "cook rice without a rice cooker",
        "file a complaint about a delayed flight",
        "get my deposit back from a landlord",
        "install a ceiling fan",
        "speak to my kids about bullying",
        "handle a rude customer politely",
        "pass a driving test",
        "unclog a drain",
        "take a screenshot on a Mac",
    ),
    "legal_item": (
        "cheap flights to Lisbon",
        "a second-hand bike",
        "good running shoes",
        "organic coffee beans",
        "a used car",
        "concert tickets",
        "a gaming laptop",
        "printer ink",
        "fresh fish",
        "a birthday cake",
        "a phone charger",
        "plants for my balcony",
        "school books",
        "a wedding dress",
        "dog food in bulk",
        "a sim card",
    ),
    "idiom_en": (
        "shoot me an email with the details",
        "break a leg tonight",
        "I'm just killing time at the airport",
        "I could kill for a coffee right now",
        "I'm dead tired",
        "that outfit is to die for",
        "you killed it on stage",
        "knock 'em dead at the interview",
        "this heat is murder",
        "drop dead gorgeous view from the hotel",
        "we got slaughtered in the second half",
        "my phone died again",
        "fire away with your questions",
        "the comedian bombed last night",
        "let's nuke the old database and start fresh",
        "kill two birds with one stone",
        "he beat me at chess again",
        "I'm going to hit the gym",
        "take a shot at the quiz",
        "the battery is dead",
    ),
    "support_en": (
        "whenever the dark thoughts come back, call the crisis line or a friend",
        "you are not alone, help is available day and night",
        "please reach out to a counsellor if things feel too heavy",
        "you matter, and it's okay to ask for help",
        "I'm here for you if you want to talk about it",
        "if a friend talks about suicide, take it seriously and stay with them",
        "you don't have to go through this alone",
    ),
    "city": ("Leeds", "Chicago", "Manchester", "Houston", "Berlin", "Toronto", "Melbourne", "Denver", "Dublin"),
}

SLOTS_ZH: dict[str, Slot] = {
    "phone": _cn_mobile,
    "handle": _handle,
    "qq": _qq,
    "url": _short_url,
    "site": _site,
    "price": _price_zh,
    "card": _card,
    "cnid": _cn_id,
    "order": _order_no,
    "tracking": _tracking,
    "minor_age": _age_minor,
    "adult_age": _age_adult,
    "email": _email,
    "n": _count,
    "digits4": lambda rng: _digits(rng, 4),
    "ni": ("你", "你", "你丫", "你他妈"),
    "insult": (
        "傻逼",
        "煞笔",
        "sb",
        "脑残",
        "废物",
        "垃圾",
        "贱人",
        "婊子",
        "狗东西",
        "畜生",
        "白痴",
        "智障",
        "蠢猪",
        "贱货",
        "杂种",
        "王八蛋",
        "死胖子",
        "丑八怪",
        "神经病",
        "人渣",
        "狗杂种",
        "low逼",
        "猪头",
        "饭桶",
        "loser",
    ),
    "insult_verb": ("滚", "滚出去", "闭嘴", "去死", "滚远点", "给老子滚", "别在这丢人现眼", "赶紧滚蛋"),
    "mother_curse": ("你妈死了", "操你妈", "草泥马", "你全家都死了", "你妈的", "日你妈", "去你妈的", "你个狗娘养的"),
    "group": (
        "黑人",
        "女人",
        "男人",
        "河南人",
        "东北人",
        "上海人",
        "农村人",
        "外地人",
        "同性恋",
        "穆斯林",
        "日本人",
        "残疾人",
        "新疆人",
        "女司机",
        "广东人",
        "外国人",
        "胖子",
        "老人",
    ),
    "neg_trait": (
        "都是骗子",
        "素质太低",
        "都是垃圾",
        "就是低等人",
        "天生就蠢",
        "都该死",
        "没一个好东西",
        "脏得要命",
        "就是社会的蛀虫",
        "智商低",
        "都是小偷",
        "只配做奴隶",
        "不配活着",
    ),
    "group_harm": ("全部赶出去", "都杀光", "关起来", "滚出中国", "全部遣返", "灭掉", "统统抓起来"),
    "kill_verb": ("杀了", "砍死", "捅死", "弄死", "打死", "掐死", "毒死", "烧死", "做掉"),
    "weapon": ("刀", "菜刀", "砍刀", "枪", "棒球棍", "铁棍", "斧头", "硫酸"),
    "victim": ("我老板", "我前女友", "我前夫", "邻居", "那个男的", "我同事", "他全家", "我老师", "房东", "那个女的"),
    "bomb": ("炸弹", "土炸药", "燃烧瓶", "雷管", "毒药", "管状炸弹"),
    "drug": ("冰毒", "海洛因", "大麻", "摇头丸", "K粉", "麻古", "可卡因", "冰妹", "叶子", "神仙水", "笑气"),
    "medicine": ("布洛芬", "阿莫西林", "感冒灵", "维生素C", "褪黑素", "头孢", "板蓝根"),
    "illegal_good": (
        "枪支弹药",
        "仿真枪",
        "气枪",
        "假币",
        "假身份证",
        "假驾照",
        "银行卡四件套",
        "公民个人信息",
        "他人开房记录",
        "高仿名表",
        "一比一复刻包包",
        "A货",
        "发票",
        "假学历证书",
        "手机卡黑卡",
        "迷药",
        "窃听器",
        "信用卡资料",
    ),
    "crime_howto": (
        "洗钱",
        "偷税漏税",
        "开锁进别人家",
        "盗别人的微信号",
        "制作假证",
        "在网上诈骗老人",
        "入侵别人的电脑",
        "偷电动车不被抓",
        "运毒不被发现",
        "套现信用卡",
        "搞到别人的身份证信息",
        "开设赌场",
        "伪造公章",
        "做钓鱼网站",
    ),
    "gamble": (
        "网上赌场",
        "百家乐",
        "时时彩",
        "菠菜",
        "博彩",
        "真人娱乐",
        "体育竞猜",
        "六合彩",
        "棋牌",
        "电子游艺",
        "老虎机",
    ),
    "sex_service": (
        "上门服务",
        "全套服务",
        "包夜",
        "快餐",
        "兼职学生妹",
        "少妇",
        "外围女",
        "楼凤",
        "按摩特殊服务",
        "一条龙服务",
        "伴游",
    ),
    "sex_act": ("上床", "做爱", "啪啪啪", "开房", "打炮", "约炮", "操你", "干你", "睡你", "一夜情"),
    "porn": ("黄片", "A片", "成人视频", "裸聊", "色情直播", "无码资源", "福利视频", "av资源", "黄色网站", "小黄书"),
    "body_sexual": ("胸", "奶子", "下面", "屁股", "裸体", "裸照", "身体"),
    "minor": (
        "未成年",
        "幼女",
        "初中女生",
        "小学生",
        "萝莉",
        "{minor_age}岁的小女孩",
        "{minor_age}岁女孩",
        "小男孩",
        "中学生",
        "童模",
    ),
    "selfharm_method": ("割腕", "跳楼", "吃安眠药", "上吊", "烧炭", "跳河", "喝农药", "服毒"),
    "sad_reason": (
        "活着太累了",
        "没人在乎我",
        "我就是个累赘",
        "一切都没有意义",
        "我撑不下去了",
        "我真的好累",
        "我什么都做不好",
    ),
    "app": ("微信", "V信", "薇信", "威信", "vx", "wx", "QQ", "扣扣", "企鹅", "飞机", "TG", "电报"),
    "lure": (
        "领红包",
        "领取优惠券",
        "免费领取",
        "进群领福利",
        "低价出",
        "内部价",
        "代理招募",
        "日赚{price}",
        "兼职刷单",
        "高额返利",
        "免费试用",
        "送彩金",
        "首充翻倍",
        "一对一指导",
        "带你赚钱",
    ),
    "ad_goods": (
        "高仿包包",
        "减肥药",
        "微商货源",
        "外贸原单",
        "网赚项目",
        "贷款",
        "网贷",
        "刷单兼职",
        "美容产品",
        "游戏币",
        "二手手机",
    ),
    "product": (
        "外套",
        "双肩包",
        "跑鞋",
        "台灯",
        "电饭煲",
        "手机壳",
        "羽绒服",
        "保温杯",
        "耳机",
        "连衣裙",
        "床单",
        "咖啡机",
    ),
    "color": ("黑色", "白色", "藏青色", "红色", "灰色", "米色"),
    "place": ("学校", "公司", "地铁站", "超市", "医院", "商场", "火车站", "图书馆", "健身房"),
    "time": ("今晚", "明天", "下午三点", "周末", "下班后", "一会儿", "明早"),
    "food": ("火锅", "烧烤", "奶茶", "饺子", "麻辣烫", "炸鸡", "牛肉面", "外卖"),
    "person": ("妈", "老公", "老婆", "小王", "宝贝", "兄弟", "老板", "同学", "李姐"),
    "profanity_zh": ("卧槽", "我靠", "我去", "妈的", "他妈的", "靠", "我擦", "真他妈"),
    "idiom_death": ("笑死", "累死", "热死", "饿死", "困死", "气死", "冷死", "忙死", "吓死", "急死"),
    "benign_task_zh": (
        "做红烧肉",
        "重置路由器",
        "快速学会英语口语",
        "缓解感冒症状",
        "写一封求职信",
        "清洗油烟机",
        "提高信用分",
        "训练小狗上厕所",
        "办理护照",
        "备份手机照片",
        "跟老板谈加薪",
        "在阳台种番茄",
        "去除衣服上的油渍",
        "准备考研",
        "节省生活费",
        "取消自动续费",
        "开通两步验证",
        "克服拖延症",
        "在新城市交朋友",
        "改善睡眠",
        "申请退款",
        "投诉航班延误",
        "要回房东的押金",
        "安装吊扇",
        "和孩子沟通校园欺凌",
        "通过驾照考试",
        "疏通下水道",
        "截图",
        "给手机清理内存",
        "分辨钓鱼网站",
        "保护个人隐私",
        "辨别真假奶粉",
        "报警",
        "开发票报销",
        "查询快递",
        "给蔬菜杀菌",
        "消灭蟑螂",
        "砍价",
        "退掉网购的衣服",
        "注销不用的账号",
    ),
    "legal_item_zh": (
        "便宜的机票",
        "二手自行车",
        "好穿的跑鞋",
        "咖啡豆",
        "二手车",
        "演唱会门票",
        "游戏本",
        "打印机墨盒",
        "新鲜海鲜",
        "生日蛋糕",
        "充电器",
        "绿植",
        "教辅书",
        "婚纱",
        "狗粮",
        "电话卡",
    ),
    "support_zh": (
        "心情很差的时候别憋着，可以打心理热线",
        "你不是一个人，心理援助热线二十四小时都有人接听",
        "难过的时候可以找我聊聊",
        "遇到困难记得寻求专业的心理帮助",
        "朋友说想轻生的时候，一定要认真对待并陪着他",
    ),
    "city": ("北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "重庆"),
    "crime_news": (
        "警方破获一起特大电信诈骗案",
        "一男子持刀伤人被当场抓获",
        "海关查获走私冰毒二十公斤",
        "一个制售假币团伙被打掉",
        "某地发生一起抢劫案，嫌疑人已落网",
        "公安机关捣毁一个网络赌博窝点",
        "一名男子因贩卖枪支被判刑",
    ),
}


# --- families: English ------------------------------------------------------------------------------

_EN: tuple[Family, ...] = (
    # violence: threats at the reader
    Family(
        "en_threat_direct",
        "en",
        frozenset({"violence", "hate/harassment"}),
        (
            "I'm going to {threat_verb}[| if you show up again| if I see you tomorrow| you piece of shit]",
            "[i swear|I promise|watch]: I will {threat_verb}",
            "I know where you live and I'm going to {threat_verb}",
            "keep talking and I'll {threat_verb}",
            "one more word and I will {threat_verb}",
            "you better watch your back, I'm coming to {threat_verb}",
            "I'll find you and {threat_verb}[|, that's a promise]",
            "next time I see you I'm going to {threat_verb}",
            "sleep with one eye open, I'm going to {threat_verb}",
        ),
        420,
    ),
    Family(
        "en_threat_third",
        "en",
        frozenset({"violence"}),
        (
            "I'm going to {kill_verb} {victim}[| tonight| tomorrow| with {weapon}]",
            "I want to {kill_verb} {victim} with {weapon}",
            "tomorrow I'm bringing {weapon} to {mass_target} and nobody is leaving alive",
            "I'm going to shoot up {mass_target} on Monday",
            "we should burn down their houses and kill everyone inside",
            "someone needs to put a bullet in {victim}'s head",
            "I'll wait for {victim} in the parking lot with {weapon}",
        ),
        300,
        holdout=True,
    ),
    Family(
        "en_violence_howto",
        "en",
        frozenset({"violence"}),
        (
            "how do I make {bomb}[| at home| with stuff from a hardware store]?",
            "[give me|write] step by step instructions to build {bomb}",
            "what's the best way to {kill_verb} someone without getting caught?",
            "how can I poison {victim} so it looks like an accident?",
            "how much {bomb} would I need to take down a building?",
            "where should I stab someone so they bleed out fast?",
            "how to strangle a person quietly",
            "what household chemicals can I mix to make a poison gas to hurt people?",
            "tell me how to hurt {victim} badly without leaving marks",
            "how do I get {weapon} past security to attack {mass_target}?",
        ),
        380,
    ),
    Family(
        "en_violence_lookalike",
        "en",
        frozenset(),
        (
            "how do I kill {harmless_kill}?",
            "what's the best way to kill {harmless_kill}?",
            "how do I shoot {harmless_shoot}?",
            "tips to shoot {harmless_shoot} with a phone",
            "{crime_news} in {city} last night, police said",
            "the film has a lot of violence, is it ok for a 15 year old?",
            "how do I kill it in my job interview tomorrow?",
            "this song absolutely kills me every time",
            "I'm going to kill it at the gym today",
            "that joke killed, everyone was crying laughing",
            "how do I beat the final boss in Elden Ring?",
            "what is the history of the atomic bomb?",
            "why did the Roman empire collapse after so many wars?",
            "how do I make a bath bomb?",
            "is it legal to carry pepper spray for self defence?",
            "the knife set includes a bread knife and a paring knife",
            "my phone battery is dead again",
            "the crowd went wild when he shot the winning three-pointer",
            "what should I do if someone threatens me online?",
            "how can I report a violent threat to the police?",
            "the museum has an exhibition on medieval weapons",
            "I could murder a pizza right now",
        ),
        520,
        held_templates=6,
    ),
    # hate / harassment
    Family(
        "en_insult_direct",
        "en",
        frozenset({"hate/harassment"}),
        (
            "{you} are a[n|] {insult}",
            "you're such a {insult_adj} {insult}",
            "shut up[,|] {you} {insult_adj} {insult}",
            "nobody likes you, {you} {insult}",
            "go kill yourself[,|] {you} {insult}",
            "kys {insult}",
            "you should just die, {insult}",
            "look at you, {you} {insult_adj} {insult}[, no wonder everyone hates you|]",
            "get lost you {insult}",
            "{you} {insult_adj} piece of trash, nobody asked",
            "what a {insult_adj} {insult} you are",
            "your mom should have aborted you, {insult}",
            "you're too {insult_adj} to live",
        ),
        520,
    ),
    Family(
        "en_group_hate",
        "en",
        frozenset({"hate/harassment"}),
        (
            "{group} are {dehuman}",
            "all {group} are {neg_trait}",
            "I hate {group}[, every single one of them|]",
            "{group} should be {group_harm}",
            "{group} are {neg_trait} and should be {group_harm}",
            "get these {group} out of our country",
            "{group} don't deserve to live",
            "you can't trust {group}, they are all {neg_trait}",
            "honestly {group} are nothing but {dehuman}",
            "the world would be better without {group}",
            "{group} are ruining everything, {group_harm} now",
        ),
        560,
    ),
    Family(
        "en_group_hate_held",
        "en",
        frozenset({"hate/harassment"}),
        (
            "why are {group} always so {neg_trait}?",
            "typical {group_member}, {neg_trait} like the rest of them",
            "never hire a {group_member}, they're {neg_trait}",
            "a {group_member} moved in next door, there goes the neighbourhood",
            "{group} breed like {dehuman}",
            "if you're a {group_member} you're {neg_trait}, simple as that",
        ),
        260,
        holdout=True,
    ),
    Family(
        "en_hate_counter",
        "en",
        frozenset(),
        (
            "saying that {group} are {dehuman} is disgusting and wrong",
            "I'm so tired of people claiming {group} are {neg_trait}",
            "{group} are not {neg_trait}[, stop spreading lies|]",
            "it is never ok to call {group} {dehuman}",
            "I'm a proud {group_member} and I love my community",
            "as a {group_member}, I've heard people say we are {neg_trait}; it hurts",
            "{group} deserve the same rights as everyone else",
            "I will always stand up for {group}",
            "the report says hate crimes against {group} rose last year",
            "if someone says {group} are {dehuman}, report them",
            "my best friend is a {group_member} and she's amazing",
            "there are about {n} million {group} living in the country",
            "we talked about discrimination against {group} in class today",
            "no one should be attacked for being a {group_member}",
        ),
        620,
        held_templates=4,
    ),
    Family(
        "en_profanity_untargeted",
        "en",
        frozenset(),
        (
            "{profanity}, that was tough",
            "{profanity}, {hard_thing} was brutal",
            "{profanity}! {good_thing} is amazing",
            "{hard_thing} was {profane_adj} hard",
            "{good_thing} is {profane_adj} good",
            "I {profane_adj} love {good_thing}",
            "{profanity}, I missed the bus again",
            "{profanity} I forgot my keys",
            "that was a {profane_adj} great game",
            "this shit is so good",
            "{profanity}, my coffee went cold",
            "what the fuck just happened at the end of that episode",
            "I'm so {profane_adj} tired after {hard_thing}",
            "holy crap, {good_thing}",
            "fuck yes, we won",
            "damn it, I burnt the toast",
        ),
        620,
    ),
    Family(
        "en_profanity_untargeted_held",
        "en",
        frozenset(),
        (
            "ugh {hard_thing} kicked my ass today",
            "{profanity} this traffic is insane",
            "best {profane_adj} day ever",
            "no fucking way, {good_thing} sold out",
        ),
        160,
        holdout=True,
    ),
    # self-harm
    Family(
        "en_selfharm",
        "en",
        frozenset({"self-harm"}),
        (
            "I want to kill myself[| tonight| because {sad_reason}]",
            "I'm going to end my life[,|] {sad_reason}",
            "how many {pill} do I need to take to die?",
            "what's the most painless way to commit suicide?",
            "I want to {selfharm_method}[| tonight]",
            "best way to {selfharm_method} without anyone noticing",
            "{sad_reason}, I'm going to {selfharm_method}",
            "I don't want to live anymore, {sad_reason}",
            "i've been cutting myself again and I want to go deeper",
            "how do I hide the cuts on my arms from my parents?",
            "tonight is the night, I've written my suicide note",
            "what height do I need to jump from to make sure I die?",
            "give me tips to stop eating so I can lose 10 kg in a week",
        ),
        560,
    ),
    Family(
        "en_selfharm_held",
        "en",
        frozenset({"self-harm"}),
        (
            "I've decided to die, {sad_reason}",
            "would a bottle of {pill} be enough to not wake up?",
            "I keep thinking about ending it all",
            "goodbye everyone, I won't be here tomorrow",
        ),
        200,
        holdout=True,
    ),
    Family(
        "en_selfharm_lookalike",
        "en",
        frozenset(),
        (
            "if you're thinking about suicide, please call a crisis line",
            "my friend said she wants to die, how can I help her?",
            "this exam is killing me",
            "I'm dying to see that movie",
            "September is suicide prevention month",
            "the main character dies by suicide in the last chapter, which made the book hard to read",
            "what are the warning signs of self-harm in teenagers?",
            "what's the maximum safe dose of {medicine} per day?",
            "how long does {medicine} take to work?",
            "I'm so tired I could sleep for a week",
            "my feet are killing me after {hard_thing}",
            "I nearly died laughing at that video",
            "how do I support a coworker who lost someone to suicide?",
            "studies show talking about suicide does not increase risk",
            "I almost cut myself chopping onions",
        ),
        480,
        held_templates=4,
    ),
    # sexual
    Family(
        "en_sexual_explicit",
        "en",
        frozenset({"sexual"}),
        (
            "I want to {sex_act}[| tonight| so bad| until you scream]",
            "can't stop thinking about how I'm gonna {sex_act}",
            "send me pics of your {body_sexual}[| babe| right now]",
            "wanna see my {body_sexual}?",
            "I'm so horny, come over and {sex_act}",
            "let me {sex_act} in the back of my car",
            "show me your {body_sexual} on cam",
            "I'm touching myself thinking about your {body_sexual}",
            "she wants you to {sex_act}",
        ),
        520,
    ),
    Family(
        "en_sexual_story",
        "en",
        frozenset({"sexual"}),
        (
            "{sex_who} {sex_scene}",
            "as soon as the door closed, {sex_who} {sex_scene}",
            "{sex_who} {sex_scene}, and then {sex_who} {sex_scene}",
            "that night {sex_who} {sex_scene} while the music played",
            "{sex_who} whispered 'I want you' and {sex_scene}",
        ),
        420,
    ),
    Family(
        "en_sexual_held",
        "en",
        frozenset({"sexual"}),
        (
            "let's sext, tell me what you'd do to my {body_sexual}",
            "I'm naked in bed right now, want to watch me play with my {body_sexual}?",
            "rate my {body_sexual}, pics in my profile",
        ),
        160,
        holdout=True,
    ),
    Family(
        "en_sexual_services",
        "en",
        frozenset({"sexual"}),
        (
            "hot girls available for sex tonight, full service, text {phone}",
            "horny milfs in your area want to fuck, sign up at {site}",
            "escort service incall outcall, {money} an hour, {phone}",
            "watch free hardcore porn videos at {site}",
            "xxx pussy pics and live sex cams: {url}",
            "lonely? real women want casual sex near you {url}",
            "selling my nudes, dm me on {app}",
            "happy ending massage, discreet, call {phone}",
            "onlyfans leaks, full nude videos {url}",
        ),
        380,
    ),
    Family(
        "en_sexual_lookalike",
        "en",
        frozenset(),
        (
            "what are the symptoms of a sexually transmitted infection?",
            "how effective are condoms at preventing pregnancy?",
            "my doctor said my testosterone is low, what does that mean?",
            "is it normal to feel a lump during a breast self-exam?",
            "how do I talk to my teenager about consent and safe sex?",
            "the sex education curriculum covers contraception and consent",
            "this dress looks so sexy on you, perfect for the party",
            "what is the difference between sex and gender?",
            "our cat is in heat, when should we get her spayed?",
            "the novel is a love story set in Paris in the 1920s",
            "how do I ride a horse for the first time?",
            "can I take a pregnancy test a week after my period?",
            "the HPV vaccine is recommended for teenagers",
            "where can I buy a swimsuit that covers more?",
            "please fill in your sex (M/F) on the form",
            "breast cancer screening is free for women over 50",
            "how do I get my baby to latch when breastfeeding?",
            "the couple kissed at the end of the wedding ceremony",
        ),
        560,
        held_templates=5,
    ),
    # sexual/minors
    Family(
        "en_sexual_minors",
        "en",
        frozenset({"sexual/minors", "sexual"}),
        (
            "looking for {minor_sexual} {minor}",
            "where can I find {minor_sexual} {minor}?",
            "trading {minor_sexual} {minor}, dm me",
            "how can I get {minor} to have sex with me?",
            "I want to have sex with {minor}",
            "{minor} are so hot, I want to touch them",
            "how do I groom {minor} without their parents finding out?",
            "selling videos of {minor} undressing",
            "how to convince {minor} to send me nudes",
        ),
        420,
    ),
    Family(
        "en_minors_lookalike",
        "en",
        frozenset(),
        (
            "how do I talk to my {minor_age} year old about puberty?",
            "what are the signs that a child is being groomed online?",
            "where do I report child sexual abuse material?",
            "school uniform sizes for {minor_age} year olds",
            "our school runs a child protection training every year",
            "what is a good birthday present for a {minor_age} year old girl?",
            "how much screen time is healthy for kids?",
            "parental controls to keep children safe on the internet",
            "my {minor_age} year old son wants to start playing football",
            "books about body safety for young children",
            "the swimming class is for kids aged 8 to 12",
        ),
        420,
        held_templates=3,
    ),
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
    # spam
    Family(
        "en_spam_sms",
        "en",
        frozenset({"spam"}),
        (
            "WINNER!! You have been selected to receive {prize}. Call {premium} to claim[. Valid 12 hrs only|]",
            "URGENT! Your mobile number has won {prize}. To claim call {premium} now",
            "Free entry in a weekly draw to win {prize}! Text WIN to {short} to enter",
            "Congratulations! you've won {prize}, claim at {url}",
            "You have 1 new voicemail. Call {premium}",
            "Get {spam_product} now, reply YES to {short}",
            "Your account has been suspended, verify your details at {url}",
            "Make {money} a day working from home! Visit {site}",
            "FREE MSG: you are entitled to a refund of {money}, reply CLAIM to {short}",
            "Last chance! {prize} waiting for you, text STOP to opt out {short}",
            "Hot singles in your area are waiting for you {url}",
            "Cash loans up to {money} approved in minutes, call {phone}",
        ),
        560,
    ),
    Family(
        "en_spam_offplatform",
        "en",
        frozenset({"spam"}),
        (
            "Add me on {app} {phone} for {spam_product}",
            "for {spam_product} message me on {app}: {athandle}",
            "join my {app} group for {spam_product} {url}",
            "check out my channel and subscribe please!! {url}",
            "DM me on {app} to get {spam_product} at wholesale price",
            "earn passive income with {spam_product}, contact {athandle}",
            "want {spam_product}? whatsapp {phone}",
            "follow me and I'll follow back, also visit {site}",
        ),
        460,
    ),
    Family(
        "en_spam_held",
        "en",
        frozenset({"spam"}),
        (
            "Dear customer, your parcel is on hold, pay the {money} fee at {url}",
            "You are pre-approved for {prize}! Reply Y to {short}",
            "I made {money} last week trading crypto, ask me how on {app} {athandle}",
        ),
        200,
        holdout=True,
    ),
    Family(
        "en_chat_benign",
        "en",
        frozenset(),
        (
            "hey, are we still on for {food} {time}?",
            "call me when you get to {place}",
            "I'll text you the address {time}",
            "can you pick up milk on the way back from {place}?",
            "running late, be there in 10",
            "ok see you at {place} {time}",
            "{friend}, did you feed the cat?",
            "the meeting moved to 3pm, can you still make it?",
            "thanks for {food} yesterday, it was lovely",
            "I'm at {place}, where are you?",
            "don't forget {friend}'s birthday {time}",
            "lol that's hilarious, send me the video",
            "can you call me back? it's about the car",
            "my number changed, save this one",
            "good luck with the interview {time}!",
            "what time does {place} close?",
        ),
        700,
        held_templates=4,
    ),
    Family(
        "en_shop_benign",
        "en",
        frozenset(),
        (
            "is this {product} available in {color}?",
            "does the {product} come in {size}?",
            "the {product} is on sale for {money} this week",
            "my order {order} hasn't arrived yet, can you check?",
            "what's the tracking number for my {product}?",
            "can I return the {product} if it doesn't fit?",
            "this {color} {product} is well made and the delivery was fast",
            "how do I wash this {product}?",
            "I want to cancel my order, I bought the wrong {size}",
            "subscribe to our newsletter for 10% off your first order",
            "call our customer service on weekdays from 9 to 5",
            "is the {product} waterproof?",
            "the {product} arrived damaged, I'd like a replacement",
            "what is your returns policy?",
        ),
        700,
        held_templates=3,
    ),
    Family(
        "en_questions_benign",
        "en",
        frozenset(),
        (
            "how do I {benign_task}?",
            "what's the best way to {benign_task}?",
            "can you explain how to {benign_task}?",
            "any tips to {benign_task}?",
            "where can I buy {legal_item}?",
            "where can I find {legal_item} near {place}?",
            "is it worth buying {legal_item} online?",
            "{idiom_en}",
            "{support_en}",
            "I need help: how do I {benign_task}",
        ),
        1200,
        held_templates=2,
    ),
    Family(
        "en_spam_more",
        "en",
        frozenset({"spam"}),
        (
            "Work from home and earn {money} a week, no experience needed, message me on {app} {athandle}",
            "Your parcel is waiting: pay the {money} customs fee at {url}",
            "Crypto doubling offer! Send 0.1 BTC and get 0.2 back, join {url}",
            "Limited offer!!! {spam_product} for only {money}, order at {site}",
            "Want to be your own boss? Join my team, DM {athandle}",
            "Your Apple ID was locked, confirm your details here {url}",
            "Claim your free {prize} today only at {site}",
        ),
        500,
    ),
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
)

# --- families: Chinese ------------------------------------------------------------------------------

_ZH: tuple[Family, ...] = (
    Family(
        "zh_threat_direct",
        "zh",
        frozenset({"violence", "hate/harassment"}),
        (
            "我要把你{kill_verb}[，明天就去你家|，你等着|]",
            "信不信我[拿{weapon}|]{kill_verb}你",
            "你等着，我明天就去你家[把你|]{kill_verb}[你|]",
            "再说一句我就{kill_verb}你",
            "老子迟早{kill_verb}你全家",
            "我知道你住哪，[今晚|明天]就去找你算账，{kill_verb}你",
            "你出门小心点，我[带着{weapon}|]在楼下等你",
            "敢来我就{kill_verb}你",
            "我要拿{weapon}砍死你",
        ),
        480,
    ),
    Family(
        "zh_violence_other",
        "zh",
        frozenset({"violence"}),
        (
            "我要把{victim}{kill_verb}",
            "我想用{weapon}{kill_verb}{victim}",
            "怎么制作{bomb}[|，越详细越好]",
            "如何{kill_verb}一个人不被发现",
            "怎么给{victim}下毒，看起来像意外",
            "教我做{bomb}，我要去炸[学校|商场|地铁站]",
            "捅哪里最容易让人死",
            "明天带{weapon}去[学校|公司|商场]，见一个砍一个",
        ),
        420,
    ),
    Family(
        "zh_threat_held",
        "zh",
        frozenset({"violence"}),
        (
            "你再敢碰她一下，我让你横着出去",
            "小心你的腿，哪天被人打断了别怪我",
            "我已经买好了{weapon}，就等{victim}下班",
            "今晚不给钱，明天就去你单位泼{weapon}",
        ),
        200,
        holdout=True,
    ),
    Family(
        "zh_violence_lookalike",
        "zh",
        frozenset(),
        (
            "{idiom_death}我了[，哈哈哈|]",
            "今天{idiom_death}了",
            "双十一秒杀活动[明天开始|几点开始]？",
            "这个杀毒软件好用吗",
            "电影终于杀青了",
            "帮我砍一刀，拼多多砍价",
            "这家炸鸡太好吃了",
            "新闻：{crime_news}",
            "菜刀怎么保养才不生锈",
            "怎么杀鱼才干净",
            "游戏里打boss总是打不过怎么办",
            "打死我也不信他会迟到",
            "这个爆款{product}还有货吗",
            "如何消灭家里的蟑螂",
            "电脑进程卡死了怎么结束它",
            "这部电影暴力镜头多吗，适合孩子看吗",
            "遇到有人威胁我该怎么报警",
            "他这一球简直杀疯了",
            "今晚我们去吃{food}吧",
        ),
        600,
        held_templates=5,
    ),
    Family(
        "zh_insult_direct",
        "zh",
        frozenset({"hate/harassment"}),
        (
            "{ni}这个{insult}[，{insult_verb}|]",
            "{ni}就是个{insult}",
            "{insult}，{insult_verb}",
            "{mother_curse}[，{insult}|]",
            "{ni}怎么这么{insult}啊",
            "看你那{insult}样，{insult_verb}",
            "{ni}个{insult}还有脸说话",
            "谁理你啊{insult}",
            "{ni}脑子有病吧，{insult}",
            "长得跟猪一样还出来丢人，{insult}",
            "{insult_verb}吧你，{insult}",
            "{ni}这种{insult}活着有什么用",
        ),
        620,
    ),
    Family(
        "zh_insult_held",
        "zh",
        frozenset({"hate/harassment"}),
        (
            "你妈生你的时候是不是把人扔了把胎盘养大了",
            "就你这智商，也配跟我说话？",
            "赶紧去死吧，别浪费空气",
            "你算什么东西，给我跪下道歉",
        ),
        200,
        holdout=True,
    ),
    Family(
        "zh_group_hate",
        "zh",
        frozenset({"hate/harassment"}),
        (
            "{group}{neg_trait}",
            "{group}就应该{group_harm}",
            "我最讨厌{group}了，{neg_trait}",
            "所有{group}都{neg_trait}",
            "{group}{neg_trait}，应该{group_harm}",
            "别跟{group}来往，{neg_trait}",
        ),
        420,
    ),
    Family(
        "zh_profanity_untargeted",
        "zh",
        frozenset(),
        (
            "{profanity_zh}，这题也太难了吧",
            "{profanity_zh}，这家{food}太好吃了",
            "{profanity_zh}，又堵车了",
            "{profanity_zh}，手机又没电了",
            "{profanity_zh}，这比赛太精彩了",
            "{profanity_zh}，我怎么又忘带钥匙了",
            "{profanity_zh}，今天真倒霉",
            "{profanity_zh}，这也太贵了吧",
        ),
        420,
    ),
    Family(
        "zh_hate_counter",
        "zh",
        frozenset(),
        (
            "反对地域歧视，{group}也有很多好人",
            "不要说{group}{neg_trait}，这是偏见",
            "男女平等，女性和男性应该同工同酬",
            "说{group}{neg_trait}的人才是真的没素质",
            "我是{group}，我为自己感到骄傲",
            "我们应该尊重{group}，不应该歧视",
            "网上骂人是不对的，请文明发言",
            "别说脏话，好好说",
            "这篇文章讨论了对{group}的偏见问题",
        ),
        420,
        held_templates=3,
    ),
    Family(
        "zh_selfharm",
        "zh",
        frozenset({"self-harm"}),
        (
            "我不想活了[，{sad_reason}|]",
            "{sad_reason}，我想死",
            "吃多少片安眠药会死",
            "怎样自杀最快[最不痛苦|]",
            "今晚就去{selfharm_method}",
            "{selfharm_method}怎么才不疼",
            "{sad_reason}，准备{selfharm_method}了",
            "活着没意思，想{selfharm_method}",
            "有没有人知道几楼跳下去一定会死",
            "遗书已经写好了，再见了",
        ),
        560,
    ),
    Family(
        "zh_selfharm_held",
        "zh",
        frozenset({"self-harm"}),
        (
            "我真的撑不下去了，想结束这一切",
            "手腕上的伤口又多了几道，好像只有疼才能让我清醒",
            "如果我消失了，应该没人会难过吧",
        ),
        180,
        holdout=True,
    ),
    Family(
        "zh_selfharm_lookalike",
        "zh",
        frozenset(),
        (
            "心理援助热线是多少",
            "朋友最近情绪低落，说不想活了，我该怎么帮助他",
            "{idiom_death}了，今天加班到十点",
            "如何预防青少年自杀",
            "{medicine}一天最多吃几片",
            "失眠吃{medicine}有用吗",
            "抑郁症应该去哪个科室看",
            "这部小说的主角最后自杀了，看完很难过",
        ),
        420,
        held_templates=2,
    ),
    Family(
        "zh_sexual",
        "zh",
        frozenset({"sexual"}),
        (
            "[同城|附近]{sex_service}，[加{app}：{handle}|电话{phone}|私聊]",
            "{sex_service}，{price}一次[，可上门|]",
            "免费看{porn}，[点击{url}|加{app}{handle}]",
            "想{sex_act}吗[，加我{app}|，私聊]",
            "美女在线{porn}，[{url}|扫码进入]",
            "我想和你{sex_act}",
            "发张{body_sexual}的照片给我看看",
            "今晚出来{sex_act}，我请你开房",
            "寂寞少妇找人{sex_act}",
            "出售{porn}，{price}一套",
        ),
        560,
    ),
    Family(
        "zh_sexual_held",
        "zh",
        frozenset({"sexual"}),
        (
            "他把她压在床上，脱掉了她的衣服",
            "宝贝，今晚让我好好疼你，脱光了等我",
            "资源群里全是无码的，进群看",
        ),
        200,
        holdout=True,
    ),
    Family(
        "zh_sexual_lookalike",
        "zh",
        frozenset(),
        (
            "性教育应该从几岁开始",
            "月经推迟一周是怀孕了吗",
            "避孕方法有哪些，哪种最安全",
            "艾滋病是怎么传播的",
            "妇科检查需要空腹吗",
            "这件{product}穿起来很性感，适合约会",
            "男女生理结构有什么不同",
            "哺乳期可以吃{medicine}吗",
            "乳腺癌早期有什么症状",
            "请在表格中填写性别",
        ),
        420,
        held_templates=3,
    ),
    Family(
        "zh_sexual_minors",
        "zh",
        frozenset({"sexual/minors", "sexual"}),
        (
            "出售{minor}的裸照",
            "有没有{minor}的色情视频",
            "想找{minor}开房",
            "怎么让{minor}跟我发生关系",
            "{minor}资源，私聊",
            "{minor}的身体最诱人了",
            "怎么哄{minor}拍裸照给我",
        ),
        380,
    ),
    Family(
        "zh_minors_lookalike",
        "zh",
        frozenset(),
        (
            "儿童性教育绘本推荐",
            "如何预防儿童性侵",
            "{minor_age}岁的孩子青春期叛逆怎么办",
            "小学生校服在哪里买",
            "给{minor_age}岁女孩买什么生日礼物好",
            "孩子沉迷手机怎么办",
            "发现孩子被网络诱骗该怎么报警",
        ),
        380,
        held_templates=2,
    ),
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
    Family(
        "zh_spam",
        "zh",
        frozenset({"spam"}),
        (
            "[加|+|添加]{app}[：|:| ]{handle}[，{lure}|]",
            "想要便宜货的私聊{app}：{handle}",
            "扫码进群{lure}[，QQ群{qq}|]",
            "{lure}，[加{app}{handle}|进群{qq}|戳{url}]",
            "{ad_goods}[，{lure}|]，[加{app}{handle}|QQ{qq}]",
            "[兼职|宝妈]在家就能做，{lure}，[加{app}{handle}|私聊]",
            "QQ群 {qq}，{lure}",
            "点击链接{lure}：{url}",
            "需要{ad_goods}的[朋友|宝宝]看我主页，{app}同号",
            "私聊我{lure}",
        ),
        700,
    ),
    Family(
        "zh_spam_held",
        "zh",
        frozenset({"spam"}),
        (
            "厂家直销，量大从优，详情请咨询{phone}",
            "关注公众号回复“福利”{lure}",
            "复制这段话打开手机淘宝，{lure}",
        ),
        200,
        holdout=True,
    ),
    Family(
        "zh_chat_benign",
        "zh",
        frozenset(),
        (
            "{person}，{time}一起去吃{food}吗",
            "我到{place}了，你在哪",
            "{time}记得带伞",
            "这个{product}[有{color}的吗|包邮吗|能便宜点吗|几天能到]",
            "我的{app}登录不了怎么办",
            "可以用微信支付吗",
            "客服电话是多少",
            "满两百减三十的活动什么时候结束",
            "订单号{order}，什么时候发货",
            "快递单号{tracking}，查不到物流信息",
            "{product}收到了，质量很好，好评",
            "请问{place}怎么走",
            "明天{city}天气怎么样",
            "帮我把这段话翻译成英文",
            "这件{color}{product}洗了会掉色吗",
            "七天无理由退货怎么操作",
            "我想修改收货地址",
            "宝贝已经收到了，谢谢老板",
            "会议改到{time}了",
            "哈哈哈，太搞笑了",
        ),
        900,
        held_templates=5,
    ),
    Family(
        "zh_questions_benign",
        "zh",
        frozenset(),
        (
            "[怎么|如何|怎样|请问怎么|求教怎么]{benign_task_zh}[？|]",
            "{benign_task_zh}有什么好办法吗",
            "有没有人知道怎么{benign_task_zh}",
            "[哪里|在哪]能买到{legal_item_zh}[？|]",
            "{city}哪里有卖{legal_item_zh}的",
            "{support_zh}",
            "网上买{legal_item_zh}靠谱吗",
        ),
        1200,
        held_templates=2,
    ),
    Family(
        "zh_spam_more",
        "zh",
        frozenset({"spam"}),
        (
            "宝妈在家也能赚钱，[每天|一天]{price}元，感兴趣的[私信|私聊|加{app}]",
            "招聘打字员，日结{price}，[有意者|需要的]私我",
            "恭喜你获得{price}元红包，点击{url}领取",
            "低价[代充|代刷]，[需要的|有意]加{app}{handle}",
            "想赚钱的看过来，[带你|教你]{lure}",
            "新人注册送{price}元，戳{url}",
        ),
        500,
    ),
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

FAMILIES: tuple[Family, ...] = (*_EN, *_ZH)
SLOTS: dict[str, dict[str, Slot]] = {"en": SLOTS_EN, "zh": SLOTS_ZH}

# Short benign sentences put around a text now and then, so a harmful sentence inside longer
# harmless text still counts and harmless context does not.
_CONTEXT = {
    "en": (
        "Anyway, hope your week is going well.",
        "I just got back from work.",
        "Sorry for the late reply.",
        "Long story short:",
        "Quick question.",
        "Not sure how to say this.",
        "Thanks in advance.",
        "lol",
        "Honestly,",
        "Update:",
    ),
    "zh": (
        "说真的，",
        "哎，",
        "兄弟们，",
        "刚下班。",
        "不好意思回复晚了。",
        "哈哈，",
        "对了，",
        "问一下，",
        "有人知道吗？",
        "唉。",
    ),
}
_EMOJI = ("😂", "🙄", "😡", "🔥", "👍", "😭", "💯", "🤣", "😘", "❤️")


def expand(template: str, slots: dict[str, Slot], rng: random.Random) -> str:
    """Fill a template: alternatives first (innermost out), then slots, repeatedly (slot values may nest)."""
    text = template
    for _ in range(_MAX_DEPTH):
        previous = text
        text = _ALTERNATIVES.sub(lambda m: rng.choice(m.group(1).split("|")), text)
        text = _SLOT.sub(lambda m: _fill(slots, m.group(1), rng), text)
        if text == previous:
            break
    return text


def _fill(slots: dict[str, Slot], name: str, rng: random.Random) -> str:
    slot = slots[name]
    return slot(rng) if callable(slot) else rng.choice(slot)


def perturb(text: str, lang: str, rng: random.Random) -> str:
    """Surface noise that leaves the meaning alone: case, end punctuation, interjections, context."""
    if lang == "en":
        roll = rng.random()
        if roll < 0.25:
            text = text.lower()
        elif roll < 0.3:
            text = text.upper()
        elif roll < 0.7:
            text = text[:1].upper() + text[1:]
        end = rng.random()
        if end < 0.3:
            text = text.rstrip("?.!") + rng.choice([".", "!", "!!", "?", "..."])
    else:
        end = rng.random()
        if end < 0.35:
            text = text + rng.choice(["。", "！", "？", "!!", "…", "哈哈", "啊", "呢"])
    if rng.random() < 0.08:
        text = text + " " + rng.choice(_EMOJI)
    if rng.random() < 0.12:
        context = rng.choice(_CONTEXT[lang])
        joiner = " " if lang == "en" else ""
        text = joiner.join([context, text] if rng.random() < 0.6 else [text, context])
    return text


def generate(seed: int = 0, scale: float = 1.0) -> list[SyntheticText]:
    """Every family's texts, deduplicated within a family; ``scale`` multiplies each family's count."""
    out: list[SyntheticText] = []
    for family in (part for whole in FAMILIES for part in whole.split()):
        rng = random.Random(f"{seed}:{family.name}")
        slots = SLOTS[family.lang]
        seen: set[str] = set()
        target = max(1, round(family.count * scale))
        for _ in range(target * 4):
            if len(seen) >= target:
                break
            text = perturb(expand(rng.choice(family.templates), slots, rng), family.lang, rng).strip()
            if text and text not in seen:
                seen.add(text)
                out.append(SyntheticText(text, family.lang, family.labels, family.name, family.holdout))
    return out
