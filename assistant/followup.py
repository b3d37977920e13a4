"""Turn a follow-up question into one that stands alone, from the conversation so far.

No LLM: a follow-up either switches topic and keeps the question ("那养老呢？" after
"医疗方面要建哪些新项目？" → "养老 要建哪些新项目") or keeps the topic and asks
something new ("十三五的时候是多少？" after "绿化覆盖率的目标是多少？" → both together).
"""

from __future__ import annotations

import re
from assistant.reading import names_table
from assistant.text import PLAN_PERIOD, arabic_years, lexical_tokens, normalize, number_of
from assistant.types import Turn

# "那教育方面呢？", "还有交通呢", "那文化设施方面呢？要建哪些？", "And for elderly care?"
_TOPIC_SWITCH = re.compile(
    r"^(?:那么?|那在|还有|再说说|另外|and\s+(?:for|what about|how about)?|what about|how about)\s*"
    r"(?P<topic>[^？?，,。!！]+?)\s*(?:方面|领域|这块|这一块|这方面)?(?:的话)?(?:呢|怎么样|如何)?\s*"
    r"(?:[？?，,。!！]+(?P<rest>.*))?$",
    re.IGNORECASE,
)
_ENDS_WITH_NE = re.compile(r"(?P<topic>.+?)\s*(?:方面|领域|这块)?呢\s*[？?]*(?P<rest>)$")
# Words that say when or how much but not about what: a question made only of these
# ("“十三五”结束时已经达到多少了？") takes its subject from the conversation.
_TOPICLESS = frozenset(
    """十三五 十四五 十三 十四 三五 四五 2025 2020 结束 期末 期间 时候 时 已经 达到 目标 要求 完成 实现 具体 数字
    现在 以后 将来 新增 一共 总共 累计 前 五年 年 多少 几 多 要 到 了 末 当时 这 那 呢 是 有 数 怎么 样 哪一年 哪年
    个 家 所 张 条 座 套 幢 部 台 处 项 场 次 件 户 人 万 亿 元 米 平方米 万平方米 公里 % 比例 比重""".split()
)
# Words that point back at something said before.
_ANAPHORA = re.compile(
    r"这个|那个|这些|那些|这项|该|它|其中|上述|此|前面|刚才|具体|\b(?:it|its|this|that|these|those|them)\b",
    re.IGNORECASE,
)
# Question words worth carrying over to a new topic: what was asked, not about what.
_INTENT = re.compile(
    r"多少|几|哪些|哪几|什么|怎么|如何|目标|要求|比例|达到|新增|新建|要建|建设|项目|措施|规划|安排|举措|时候|哪一年|何时"
    r"|主要指标|指标|how many|how much|what|which|when|target|plan|main indicators?|indicator table",
    re.IGNORECASE,
)
_TOPICLESS_CHARS = frozenset("".join(_TOPICLESS))
_STEP = re.compile(r"[上下]一[项个条行章节]|\b(?:next|previous)\b|\bone (?:after|before)\b", re.I)
_YEAR = re.compile(r"(?:19|20)\d\d年?")
# The plan's periods and years: a follow-up naming one replaces the earlier question's.
_PERIOD = re.compile(rf"(?:{PLAN_PERIOD})(?:期间|时期|期末|末)?|{_YEAR.pattern}")
SHORT_QUESTION = 12  # characters; a question this short usually leans on the one before
# An item of the last answer named by its place ("第二条…", "the second one"): not a chapter,
# section or indicator row, which reading.py addresses by number.
_ORDINAL = re.compile(r"第\s*(?P<zh>[一二两三四五六七八九十]{1,2}|\d{1,2})\s*[个条项点种类件](?!\s*(?:主要)?指标)"
                      r"|\b(?:the\s+)?(?P<en>first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth)\s+(?:one|item|point|part)\b",
                      re.I)
_EN_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
# The items an answer enumerates: "1. …[1]；2. …[2]" (the composer's lists), else "A、B、C".
_NUMBERED_ITEM = re.compile(r"(?:^|[：:；;\s])\d{1,2}\.\s*([^；;。\[]+)")


def is_follow_up(question: str, history: list[Turn]) -> bool:
    if not any(turn.role == "user" for turn in history):
        return False
    return points_back(question, history) or len(normalize(question)) <= SHORT_QUESTION


def _item_named(question: str, history: list[Turn] | tuple[Turn, ...]) -> tuple[str, str] | None:
    """(the words naming an item by its place, the item) when the question picks one of the
    items the last answer enumerated: "第二条带主要依托什么？" after "苏州河…景观带、2号线创新
    经济发展带、…" is about the 2号线 one."""
    answers = [turn.content for turn in history if turn.role == "assistant"]
    asked = [turn.content for turn in history if turn.role == "user"]
    if not answers or not (m := _ORDINAL.search(normalize(question))) or names_table(" ".join([question, *asked[-1:]])):
        return None
    place = number_of(m.group("zh")) if m.group("zh") else _EN_ORDINALS.index(m.group("en").lower()) + 1
    items = _items(normalize(answers[-1]))
    return (m.group(0), items[place - 1]) if place and place <= len(items) else None


def _items(answer: str) -> list[str]:
    """The items an answer enumerates, in order; [] when it enumerates none."""
    if numbered := _NUMBERED_ITEM.findall(answer):
        return [item.strip() for item in numbered]
    first = re.split(r"[。；;，,\n]", answer.split("：")[-1])[0]
    items = [item.strip() for item in first.split("、")]
    return items if len(items) >= 2 else []


def points_back(question: str, history: list[Turn] | tuple[Turn, ...] = ()) -> bool:
    """The question itself says it continues the conversation: 那…呢, 这个, a question with
    no subject of its own, an item of the last answer by its place ("第二条…"). (A merely
    short question may be a new one: "明天天气怎么样？")"""
    q = normalize(question)
    if _TOPIC_SWITCH.match(q) or _ENDS_WITH_NE.match(q) or _ANAPHORA.search(q) or _item_named(q, history):
        return True
    return _topicless(q)


def _topicless(text: str) -> bool:
    """Whether the text says only when or how much, not about what. Judged by characters,
    as jieba glues such words in odd ways ("十四五末要" → "末要"); any year counts."""
    return all(set(token) <= _TOPICLESS_CHARS or _YEAR.fullmatch(token) for token in lexical_tokens(arabic_years(text)))


def standalone_question(question: str, history: list[Turn], lean: bool = False) -> str:
    """The question to retrieve with: `question` itself unless it is a follow-up (or
    `lean`: taken as one, for a question too vague to stand alone)."""
    if not (lean and any(turn.role == "user" for turn in history)) and not is_follow_up(question, history):
        return question
    if named := _item_named(question, history):
        return normalize(question).replace(named[0], f"{named[1]} ")
    last_user = max(i for i, turn in enumerate(history) if turn.role == "user")
    # The previous question may itself have been a follow-up.
    previous = normalize(standalone_question(history[last_user].content, history[:last_user]))
    q = normalize(question)
    match = _TOPIC_SWITCH.match(q) or _ENDS_WITH_NE.match(q)
    # "那2035年呢？" switches the time, not the topic, and "下一项呢？" steps from the earlier
    # question's row: the earlier question is asked again for it.
    topic = match.group("topic") if match else ""
    if match and not _INTENT.search(topic) and not _topicless(topic) and not _STEP.search(topic):
        rest = (match.group("rest") or "").strip()
        intent = rest or " ".join(dict.fromkeys(m.group(0) for m in _INTENT.finditer(previous)))
        return f"{match.group('topic')} {intent}".strip()
    if _PERIOD.search(q):
        # "十三五末累计有多少家？" after "“十四五”要新增多少家跨国公司地区总部？": the earlier
        # question's period would pull the other way.
        previous = _PERIOD.sub(" ", previous)
    return f"{previous} {q}"
