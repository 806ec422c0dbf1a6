"""Sections (f) and (g) of :mod:`bench.moderation_eval`: filter latency per text and the rule layers'
throughput, on short texts and 1-2 KB model-answer-like texts."""

from __future__ import annotations

import contextlib
import random
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench.report import percentile, section, table
from pipelines.moderation.policy.config import Direction
from pipelines.moderation.policy.engine import PolicyEngine

_ANSWER_EN = [
    "The jacket in the photo is a mid-weight softshell in navy blue with a high collar and two zipped hand "
    "pockets. The fabric has a slight sheen, which usually means a polyester blend with a durable water "
    "repellent finish rather than a fully waterproof membrane.",
    "For daily commuting it should be comfortable between about 5 and 15 degrees Celsius. In heavy rain you "
    "would want a shell with taped seams; this one is better suited to drizzle and wind.",
    "Care instructions for this kind of garment are simple: wash it cold on a gentle cycle, skip the fabric "
    "softener because it clogs the water repellent coating, and tumble dry on low heat to reactivate it.",
    "If you are choosing between the two sizes, the medium runs slightly long in the sleeves according to "
    "most reviews, so people between sizes often pick the smaller one and layer a thin fleece underneath.",
    "Here is a short summary of the order: one pair of running shoes, size 42, delivered by standard "
    "shipping within three to five working days. Returns are free within thirty days if the shoes are unworn.",
    "The image shows a kitchen counter with a chopping board, three tomatoes, a bunch of basil and a glass "
    "bottle of olive oil. The light comes from a window on the left, and the background is slightly blurred.",
    "To make a simple tomato sauce, warm the oil, add a sliced clove of garlic, then the chopped tomatoes and "
    "a pinch of salt. Simmer for twenty minutes, tear in the basil at the end and season to taste.",
    "I cannot see any text or logo on the product that would identify the brand, but the stitching pattern "
    "and the shape of the toe box are similar to several popular trail running models from recent years.",
]
_ANSWER_ZH = [
    "图片中是一件藏青色的中等厚度软壳外套，立领设计，两侧各有一个带拉链的口袋。面料表面略有光泽，"
    "通常是涤纶混纺并做了防泼水处理，而不是完全防水的薄膜面料。",
    "日常通勤的话，这件外套大约适合五到十五摄氏度的天气。如果经常遇到大雨，建议选择压胶密封的冲锋衣；"
    "这一件更适合小雨和大风天气。",
    "这类衣服的护理很简单：冷水轻柔洗涤，不要使用柔顺剂，因为柔顺剂会堵塞防泼水涂层，洗后低温烘干可以让涂层恢复效果。",
    "订单摘要如下：跑鞋一双，四十二码，普通快递三到五个工作日送达。未穿着的商品三十天内可以免费退货。",
    "图片里是厨房台面，上面有一块砧板、三个番茄、一把罗勒和一瓶橄榄油。光线从左边的窗户照进来，背景略微虚化。",
    "做简单的番茄酱汁：先把油加热，放入蒜片，再加入切好的番茄和少许盐，小火炖二十分钟，最后撕入罗勒叶，"
    "按口味调味即可。",
]


def long_answers(rng: random.Random) -> list[str]:
    """Model-answer-like texts of 1-2 KB (UTF-8): 16 English, 8 Chinese, paragraphs drawn with a seed."""
    texts = []
    for pool, count in ((_ANSWER_EN, 16), (_ANSWER_ZH, 8)):
        for _ in range(count):
            target = rng.randint(1024, 2048)
            parts: list[str] = []
            while len("\n\n".join(parts).encode()) < target:
                parts.append(rng.choice(pool))
            texts.append("\n\n".join(parts))
    return texts


def time_checks(engine: PolicyEngine, texts: Sequence[str], direction: Direction, prompt: str | None) -> list[float]:
    for text in texts[:5]:  # warm-up: caches, lazy model state
        engine.check(text, direction, prompt)
    times = []
    for text in texts:
        started = time.perf_counter()
        engine.check(text, direction, prompt)
        times.append(time.perf_counter() - started)
    return times


@contextlib.contextmanager
def guard_dir(given: Path | None) -> Iterator[Path]:
    if given is not None:
        yield given
        return
    from devtools.tiny_guard import build_tiny_guard

    with tempfile.TemporaryDirectory(prefix="tiny-guard-") as tmp:
        started = time.perf_counter()
        build_tiny_guard(tmp)
        print(f"built the tiny guard into {tmp} in {time.perf_counter() - started:.1f} s")
        yield Path(tmp)


def latency_report(engines: dict[str, PolicyEngine], short: list[str], long: list[str], guard_texts: int) -> None:
    section("(f) filter latency per text (engine.check, time.perf_counter, one thread)")
    print(
        f"short: the labelled set's and plain cases' texts, direction=input; long: {len(long)} model-answer-like "
        f"texts of {min(len(t.encode()) for t in long)}-{max(len(t.encode()) for t in long)} bytes, "
        "direction=output with a prompt"
    )
    print(f"the guard row times an evenly spaced subset of {guard_texts} short texts (all long ones)\n")
    rows = []
    for name, engine in engines.items():
        subset = short
        if "guard" in name and guard_texts < len(short):
            step = len(short) / guard_texts
            subset = [short[int(i * step)] for i in range(guard_texts)]
        for corpus, texts, direction, prompt in (
            ("short", subset, "input", None),
            ("long", long, "output", "Describe the product in the photo."),
        ):
            times = time_checks(engine, texts, direction, prompt)
            ms = [t * 1000 for t in times]
            rows.append([name, corpus, len(texts), percentile(ms, 0.5), percentile(ms, 0.99), statistics.fmean(ms)])
    print(table(["layers", "texts", "n", "p50 ms", "p99 ms", "mean ms"], rows, left=2))


def throughput_report(engine: PolicyEngine, short: list[str], long: list[str]) -> None:
    section("(g) throughput of the rule layers alone (terms + patterns), one thread")
    corpora = {"short (labelled x6)": short * 6, "long (answers x40)": long * 40}
    corpora["mixed"] = [*corpora["short (labelled x6)"], *corpora["long (answers x40)"]]
    rows = []
    for name, texts in corpora.items():
        time_checks(engine, texts[:50], "output", None)
        started = time.perf_counter()
        for text in texts:
            engine.check(text, "output")
        elapsed = time.perf_counter() - started
        size = sum(len(t.encode()) for t in texts)
        rows.append([name, len(texts), elapsed, len(texts) / elapsed, size / elapsed / 1e6])
    print(table(["corpus", "texts", "seconds", "texts/s", "MB/s"], rows))
