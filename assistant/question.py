"""What a question asks for, read from its wording: a number (and in what unit), a list,
a place in the outline, a definition; about the 十三五 past or the plan's targets."""

from __future__ import annotations

import re
from dataclasses import dataclass

import jieba

from assistant.text import normalize

_NUMERIC = re.compile(r"多少|(?<!哪)几[个家项处所张条座套幢年成倍]|百分之几|比例|比重|占比|覆盖率|目标值"
                      r"|多久|多长时间|什么时候|何时|哪一?年"
                      r"|how many|how much|how long|what share|percent|rate\b|\bwhen\b", re.I)
_LISTING = re.compile(r"哪些|哪几|包括|分别|几个方面|几方面|哪[两三四五六]|有什么工作|what are the|which areas|list", re.I)
_LOCATE = re.compile(r"哪[一]?部分|哪一章|哪个章节|哪章|哪一节|什么地方|哪里讲|在哪[里儿]?[讲写说提]|写在哪|讲在哪"
                     r"|where (?:does|is|in)", re.I)
_DEFINE = re.compile(r"什么是|是什么意思|什么意思|指什么|指的是|是指|含义|解释|是什么|what (?:is|are|does)|mean", re.I)
_FUTURE = re.compile(r"十四五|2025|到\s*20\d\d|将|以后|未来|要|计划|目标|力争|will|should|by 20\d\d|target|plan to", re.I)
_PAST = re.compile(r"十三五|过去|前五年|已经|取得了|[建办做完达]了|了多少|目前|现在|did|was|were|have been|so far", re.I)

# A sentence that states a quantity or an assigned target.
_QUANTITY = re.compile(r"\d|市下达|全覆盖|全部|为零|百分之|[一二两三四五六七八九十百千万]+[米个家项处所张条座套幢年倍成]")
_NUMBER = r"(?:\d[\d.,\-]*|[一二两三四五六七八九十百千]+)\s*(?:多|余)?\s*[万亿]?"
_COUNTERS = "个家所张条座套幢部台处项场次件户辆名位间栋"
# The quantity a question asks for, by its unit, and the same quantity stated in a sentence:
# "总投资是多少亿元" is not answered by "娄山关路445弄".
_ASKED = {
    "money": re.compile(r"(?:多少|几)(?:钱|元|万元|亿元?)|多少钱"),
    "area": re.compile(r"(?:多少|几)(?:万)?(?:平方米|平米|亩|公顷)|多大面积|多少面积"),
    "length": re.compile(r"(?:多少|几)(?:公里|千米|米)|多长"),
    "people": re.compile(r"(?:多少|几)(?:万)?(?:人次|人)"),
    "share": re.compile(r"百分之几|比例|比重|占比|多少%|percent|share", re.I),
    "count": re.compile(rf"(?:多少|几)[{_COUNTERS}]"),
    "duration": re.compile(r"多久|多长时间|几个?(?:小时|分钟|天|月)|how long", re.I),
    "date": re.compile(r"什么时候|何时|哪一?年|\bwhen\b", re.I),
}
_STATED = {
    "money": re.compile(rf"{_NUMBER}(?:元|美元)|市下达"),
    "area": re.compile(rf"{_NUMBER}(?:平方米|亩|公顷|平方公里)"),
    "length": re.compile(rf"{_NUMBER}(?:公里|米)"),
    "people": re.compile(rf"{_NUMBER}(?:人次|人)|市下达"),
    "share": re.compile(r"\d\s*%|百分|市下达|全覆盖|为零"),
    "count": re.compile(rf"{_NUMBER}[{_COUNTERS}]|市下达"),
    "duration": re.compile(rf"{_NUMBER}(?:分钟|小时|天|周|个月|年)"),
    "date": re.compile(r"20\d\d\s*年|年底|年内|十四五|期间|期末"),
}


@dataclass(frozen=True)
class Intent:
    numeric: bool  # asks for a number
    listing: bool  # asks for all the items of something
    locate: bool  # asks where the plan discusses something
    define: bool  # asks what a term means
    period: str | None  # "past" (十三五 results), "future" (targets) or None
    measure: str | None  # the kind of number asked for: money, area, length, people, share, count, duration, date
    rates: tuple[str, ...]  # rates the question names as words: "出生率", "签约率"


def read_intent(question: str) -> Intent:
    q = normalize(question)
    return Intent(
        numeric=bool(_NUMERIC.search(q)),
        listing=bool(_LISTING.search(q)),
        locate=bool(_LOCATE.search(q)),
        define=bool(_DEFINE.search(q)),
        period="past" if _PAST.search(q) else "future" if _FUTURE.search(q) else None,
        measure=next((measure for measure, pattern in _ASKED.items() if pattern.search(q)), None),
        rates=tuple(t for t in jieba.lcut(q) if len(t) >= 2 and t.endswith("率")),
    )


def states_quantity(sentence: str, measure: str | None = None) -> bool:
    """Whether the sentence states a quantity of that kind (any quantity when `measure` is None)."""
    return bool((_STATED[measure] if measure else _QUANTITY).search(sentence))
