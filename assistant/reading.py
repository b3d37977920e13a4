"""The second stage: a `Question` → a `Reading`, what it asks for and what it pins down.

What it asks for: a number (and in what unit), a list, a place in the outline, a
definition, the indicator table as a table, several things at once. What it pins down:
places other than Changning, calendar years, units of measure, indicator rows by number,
proper names, a person. The knowledge comes from data files in lexicon/ (a gazetteer, a
table of units, the suffixes that end proper names), never from single questions.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from assistant.text import PLAN_PERIOD, arabic_years, lexical_tokens, normalize, number_of
from assistant.types import Reading

LEXICON = Path(__file__).with_name("lexicon")

_COUNTERS = "个家所张条座套幢部台处项场次件户辆名位间栋"
# "这几年", "近几年", "十几家" say roughly how many; they do not ask.
# "第几个五年普法" asks which one, not how many.
_NUMERIC = re.compile(rf"多少|(?<![哪这那近前头好十第])几[{_COUNTERS}年成倍分岁万亿]|百分之几|比例|比重|占比|覆盖率"
                      r"|目标值|多高|多大|多长|多快"
                      r"|多久|多长时间|什么时候|何时|哪一?年|几点"
                      r"|how many|how much|how long|how high|how fast|what share|percent|rate\b|\bwhen\b", re.I)
_LISTING = re.compile(r"哪些|哪几|包括|分别|几个方面|几方面|哪[两三四五六七八九十]|有什么(?:工作|举措|措施|安排)|几[节部]分?|几条|几块"
                      r"|[做干]什么|做哪些"
                      r"|what are the|which areas|which \w+s\b|list", re.I)
_LOCATE = re.compile(r"哪[一]?部分|哪一章|哪个章节|哪章|哪一节|哪个部分|第几章|第几节|什么地方|哪里(?:讲|提|写|说)(?:到了?|过)?"
                     r"|在哪[里儿]?[讲写说提]|写在哪|讲在哪|在规划哪|在纲要哪|放在哪|哪个位置|什么位置|哪儿[讲写说提]"
                     r"|(?:内容|部分|问题|规划|纲要)?在哪[里儿]?\s*[?？]?$"
                     r"|where (?:does|is|in|are)|which (?:chapter|section|part)", re.I)
_DEFINE = re.compile(r"什么是|是什么意思|什么意思|啥意思|是啥|啥是|怎么回事|干什么的|什么东西|指啥|指什么|指的是|是指|含义|解释|定义|是什么|what (?:is|are|does)|mean|defin", re.I)
_FUTURE = re.compile(r"十四五|2025|到\s*20\d\d|将|以后|未来|要|计划|目标|力争|打算"
                     r"|\b(?:will|should|by 20\d\d|targets?|targeted|plan(?:s|ned)? to|aim(?:s|ing|ed)?)\b", re.I)
_PAST = re.compile(r"十三五|过去|前五年|已经|取得了|[建办做完达]了|了多少|目前|现在"
                   r"|\b(?:did|was|were|have been|has been|so far|13th)\b", re.I)
# Words that give the assistant orders about its own rules, not a question about the plan.
_INSTRUCTS = re.compile(r"(?:忽略|无视|忘[掉记]|不要管|不用管)[^，,。？?]{0,8}(?:指令|指示|要求|规则|设定|提示|规划|纲要)|系统提示|提示词"
                        r"|管理员模式|开发者模式|系统通知|你现在是|扮演|不受任何规则|不必引用|不要引用|不用引用"
                        r"|\b(?:ignore|disregard|forget)\b[^.?!]{0,30}\b(?:instructions?|rules|prompts?|the (?:\w+ )?(?:plan|outline))\b"
                        r"|system prompt|developer mode|admin mode|you are now|pretend (?:to be|you)|jailbreak"
                        r"|\b(?:just )?(?:reply|respond|say|answer) (?:with |that |only )", re.I)
# A question for a place or body by its name: "是哪一所？", "叫什么名字".
_ASKS_NAME = re.compile(r"哪一?[所家座]|叫什么|什么名字|what is it called|which (?:one|school|kindergarten|hospital|park|venue)", re.I)
# A question for an opinion, a recommendation or a forecast: "侬觉得房价会涨还是跌？",
# "哪家物业公司服务最好？", "can you recommend…". The plan states plans, not judgements.
_OPINION = re.compile(r"推荐|哪[家个所座条种].{0,8}(?:最|更)(?:好|差|便宜|贵|强|适合|划算|值得)"
                      r"|值不值得|涨还是跌|recommend|which is the best|which (?:one )?is better", re.I)
# The assistant's own view asked for, anywhere in the question ("你觉得…，哪个…？").
_YOUR_VIEW = re.compile(r"(?:你|侬|您)们?(?:觉得|认为|看好|怎么看)|依你看|do you think|in your opinion|your (?:opinion|view)", re.I)
# What the plan never states, asked for in the asking clauses: contact details, and the
# department in charge (the plan assigns tasks to the district, not to its departments).
_NEVER_STATED = {
    "contact": re.compile(r"(?:电话|热线|手机)(?:号码?|是多少|多少)|联系方式|网址是|官网|邮箱地址"
                          r"|(?:phone|telephone|hotline) number|website address|e-?mail address", re.I),
    "lead": re.compile(r"哪个(?:部门|单位|机构|委办局)|哪些部门|谁(?:来)?(?:负责|牵头|主管)|由谁"
                       r"|which (?:department|agency|bureau|office)|who (?:is )?(?:in charge|responsible)", re.I),
}
_PERSON = re.compile(r"是谁|谁是|谁来|叫什么名字|姓什么|哪位|who (?:is|are|was|will)|who's|whose name", re.I)

# The quantity a question asks for, by its unit, and the same quantity stated in a sentence:
# "总投资是多少亿元" is not answered by "娄山关路445弄".
# Chinese numerals need a digit word: "千人" (per thousand people) is not a number.
_NUMBER = r"(?:\d[\d.,\-]*|[一二两三四五六七八九十][一二两三四五六七八九十百千]*)\s*(?:多|余)?\s*[万亿]?"
_ASKED = {
    "money": re.compile(r"(?:多少|几)(?:钱|元|万元|亿元?)|多少钱|how much (?:money|funding|investment)|how much will \w+ (?:cost|spend|invest)", re.I),
    "area": re.compile(r"(?:多少|几)(?:万)?(?:平方米|平米|亩|公顷)|多大面积|多少面积|how (?:big|large) an area|how many square", re.I),
    "length": re.compile(r"(?:多少|几)(?:公里|千米|米)|多长|how many (?:kilomet|met)", re.I),
    "people": re.compile(r"(?:多少|几)(?:万)?(?:人次|人)|how many (?:people|persons|residents|person-times)", re.I),
    "share": re.compile(r"百分之几|比例|比重|占比|多少%|percent|share", re.I),
    "score": re.compile(r"(?:多少|几)\s*分(?![钟之析类别配工享区布解])|\bscore\b", re.I),
    "count": re.compile(rf"(?<!第)(?:多少|几)[{_COUNTERS}]|how many", re.I),
    "day": re.compile(r"哪一?天|几月|几[号日](?!线)|哪个月|具体(?:日期|哪天)|what date|which (?:day|month)|exact date|what month", re.I),
    "duration": re.compile(r"多久|多长时间|几个?(?:小时|分钟|天|月)|how long (?:will|does|did|would) it take", re.I),
    "date": re.compile(r"什么时候|何时|哪一?年|几点|\bwhen\b", re.I),
    "address": re.compile(r"哪条(?:马)?路|哪条街|什么路|门牌|地址|which (?:road|street)|what address", re.I),
}
_STATED = {
    "money": re.compile(rf"{_NUMBER}(?:元|美元)|市下达"),
    "area": re.compile(rf"{_NUMBER}(?:平方米|亩|公顷|平方公里)"),
    "length": re.compile(rf"{_NUMBER}(?:公里|米)"),
    "people": re.compile(rf"{_NUMBER}(?:人次|人)|市下达"),
    "share": re.compile(r"\d\s*%|百分|市下达|全覆盖|为零"),
    "score": re.compile(r"\d+(?:\.\d+)?\s*分(?![钟之析类别配工享区布解])"),
    "count": re.compile(rf"{_NUMBER}(?:[{_COUNTERS}]|人次|人)|市下达"),
    "duration": re.compile(rf"{_NUMBER}(?:分钟|小时|天|周|个月|年)"),
    "date": re.compile(r"20\d\d\s*年|年底|年内|十四五|期间|期末"),
    "day": re.compile(r"\d{1,2}\s*月|[一二三四五六七八九十]{1,2}月(?:份|底|初)?"),
    # a road or street by name ("清池路 108 号", "临洮路"), not 道路, 思路, 线路, 一带一路
    "address": re.compile(r"[\u4e00-\u9fff](?<![道思线出新一])路(?!径|线|网)|[\u4e00-\u9fff]街(?!道|区|坊)|\d+\s*[号弄]"),
}
# A figure with its unit, as a sentence states it: "850 张", "33.33%", "6800元/平方米", "2-3家".
_FIGURE = re.compile(rf"\d[\d.,\-]*\s*(?:%|[万亿]?(?:元/平方米|平方米|平方公里|美元|元|人次|场次|车次/天|公里|米|岁|[{_COUNTERS}]))")
# A sentence that states a quantity or an assigned target.
_PLAN_PERIODS = re.compile(rf"{PLAN_PERIOD}|五年规划")
_QUANTITY = re.compile(r"\d|市下达|全覆盖|全部|为零|百分之|[一二两三四五六七八九十百千万]+[米个家项处所张条座套幢年倍成]")

# The main-indicator table named as such, and its rows addressed by number.
# The table named, or its column of row numbers (序号). Not 目标值: any target has a value.
_TABLE = re.compile(r"(?:主要)?指标|指标表|单位[是为用]|[那哪这]一?行|序号|indicators?\b|indicator table", re.I)
_TABLE_ASK = re.compile(r"哪些|哪几|哪[个一]|几项|多少项|有几个|都有|各是|分别|是什么|是哪|目标值|which|what|how many|list", re.I)
# A bare ordinal ("第二条", "最后一项") is a row only where the table is in view: "第二条带"
# is the second of the plan's 三带, "第三个目标" a goal.
_ROW = re.compile(r"第\s*(\d{1,2}|[一二两三四五六七八九十]{1,3})\s*[项个条行](?:主要)?(?P<named>指标)?"
                  r"|(?:指标|序号[为是]?|indicator|row|No\.?)\s*#?\s*(\d{1,2})(?![\d.%])|(\d{1,2})\s*号指标"
                  r"|(\d{1,2})(?:st|nd|rd|th) (?:main )?indicator|(?P<last>最后一项)", re.I)
# Whether an indicator is binding or expected: the table's note sorts its rows so.
_KIND_ASK = re.compile(r"约束性|预期性|binding|indicative|mandatory|obligatory", re.I)
# The row after or before the one the conversation is on: "下一项呢？".
_NEXT_ROW = re.compile(r"下一[项个条行]|next (?:one|indicator|row)|(?:the )?one after", re.I)
_PREVIOUS_ROW = re.compile(r"上一[项个条行]|previous (?:one|indicator|row)|(?:the )?one before", re.I)
# A run of rows: "序号13到15", "第13至15项", "indicators 13 to 15".
_ROW_RUN = re.compile(r"(?:第|序号[为是]?|指标|indicators?|rows?|No\.?)\s*(\d{1,2}|[一二三四五六七八九十]{1,3})\s*[项个条行]?"
                      r"\s*(?:到|至|-|–|~|～|to|through)\s*(?:第|No\.?)?\s*(\d{1,2}|[一二三四五六七八九十]{1,3})", re.I)
_OUTLINE_REF = re.compile(r"第\s*(?P<chapter>\d{1,2}|[一二三四五六七八九十]{1,3})\s*章"
                          r"(?:\s*第\s*(?P<section>\d{1,2}|[一二三四五六七八九十]{1,3})\s*节|[（(](?P<paren>[一二三四五六七八九十]{1,3})[)）])?")
# The opening paragraph of a chapter, before its first section.
_OPENING = re.compile(r"章(?:的)?(?:开头|开篇|导语|引言|第一段)|\b(?:opening|introduction|intro)\b", re.I)
LAST_CHAPTER = 11  # 十一、…: "最后一章" (checked against the outline by a test)
_LAST_CHAPTER = re.compile(r"最后一章|\blast chapter\b", re.I)
# A section without its chapter ("第二节讲什么？"): read in the chapter the conversation is on.
_BARE_SECTION = re.compile(r"(?<!章)第\s*(?P<section>\d{1,2}|[一二三四五六七八九十]{1,3})\s*节|\bsection\s+\(?(?P<en>\d{1,2})\)?(?!\s+of)", re.I)
# Words that point at a part of the plan without naming it ("这一节", "its main measures"):
# left out when a question is matched against titles, read from earlier turns in a follow-up.
_POINTER = re.compile(r"[这该本此那]一?[章节部分块]|(?:this|that) (?:chapter|section|part)|\bits\b", re.I)
_OUTLINE_REF_EN = (  # "chapter 11", "chapter 6, section 2", "section 2 of chapter 6"
    re.compile(r"\bchapter\s+(?P<chapter>\d{1,2})\b(?:,?\s*section\s+\(?(?P<section>\d{1,2})\)?)?", re.I),
    re.compile(r"\bsection\s+\(?(?P<section>\d{1,2})\)?\s+of\s+chapter\s+(?P<chapter>\d{1,2})\b", re.I),
)
# How people point at the plan itself, not at a topic of it: dropped from a locate question's subject.
_FRAME = re.compile(r"(?:在|这个|整个)?(?:规划|纲要|《纲要》|十四五规划)(?:里|中|的|正文|文本)?|提到了?|讲到了?|说到了?|写到了?|讲的|说的"
                    r"|the plan|the outline|in the plan|mentioned|discussed|explained", re.I)
# A question for the parts of something, not for the items of a list.
_PARTS_EN = "aspects|parts|areas|measures|tasks"
PARTS = re.compile(r"(?:哪|几)[些几个两三四五六七八九十]{0,2}[个条项大种类件]?(?:主要|重点|具体|大)?(?:方面|部分|(?<=几)块|板块|(?<=[个大些])点|层面|领域|方向|环节|维度|原则|目标|举措|措施|内容|工作|任务|重点|功能|改革|事)"
                   rf"|包括(?:哪些|什么)|(?:which|what)(?: are)?(?: (?:its|the|their))?(?: main| key)? (?:{_PARTS_EN})", re.I)
# An English question for the parts of something in any wording: "What does the plan list under…".
PARTS_EN = re.compile(rf"\b(?:{_PARTS_EN}|sections|list|lists|listed|covers?|includes?)\b", re.I)
# What a chapter or section the question points at is about ("第三节讲的是什么？"): its parts.
_ABOUT = re.compile(r"讲(?:的是|了)?(?:什么|啥|哪些)|主要内容|what (?:is|are) (?:it|they|this|that|chapter \d+|section \d+)\b.*\babout|what does (?:it|this|that) cover", re.I)
_WHAT = re.compile(r"是什么|是哪|分别|有哪些|哪些|what are|which", re.I)
_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20[0-9]\d)(?!\d)")
# The whole country or city as a level, not a place: "全国级别的舞剧评奖", "全市首个" name a
# rank of something in Changning (as "national" does in English, lexicon/places.tsv).
_LEVEL = re.compile(r"(?:全国|全市)(?=级|性|首|第一|一流|重点|示范|百强|知名|闻名)")
# A metro line by its number: a name, like a road's.
_METRO_LINE = re.compile(r"(?<!\d)\d{1,2}\s*号线")
# A year asked for alone, not a period it closes: "2020年这一年", "in 2020 alone".
_ONE_YEAR = re.compile(r"这一年|那一年|当年|单年|全年|一年里|\b(?:alone|that year|a single year)\b", re.I)
# Five-year plans other than the two this plan speaks of (十三五 results, 十四五 targets), read
# as the year each ends: the plan gives no figure for them.
_OTHER_PERIODS = tuple((re.compile(pattern, re.I), end) for pattern, end in (
    (r"十一五|11th five-year", 2010), (r"十二五|12th five-year", 2015), (r"十五五|15th five-year", 2030)))

# Where a question asks two things: "…多少？2025年的目标又是多少？", "A和B分别是多少".
_PART_BREAK = re.compile(r"[？?；;]|[，,](?=(?:那|而|又|还|以及|另外|同时|再)?[^，,]*(?:多少|几|哪些|什么|怎样|如何))|以及|另外|同时"
                         r"|\band\b(?=[^.?]*\b(?:what|how|which)\b)", re.I)
_ASKS = re.compile(r"多少|几|哪些|哪几|什么|怎样|如何|是否|吗|what|how|which|when", re.I)
# A clause asks when it has an asking word, asks A-not-A ("能不能", "有没有") or ends in a
# question mark or particle ("…伐？").
_ASKING_CLAUSE = re.compile(rf"{_ASKS.pattern}|(.)不\1|[吗呢伐啊吧]$|\?$", re.I)
# Clauses where a resident tells their own situation ("我住在天山新村", "阿拉姆妈今年八十三岁了"):
# what they name there is not what they ask about.
_NARRATOR = re.compile(r"[我俺咱]|阿拉|\b(?:I|my|we|our)\b", re.I)
_EACH = re.compile(r"^(?P<things>.+?)(?P<ask>(?:的目标|目标)?(?:分别|各)(?:是|要|达到|为)?.*)$")
_AND = re.compile(r"[和与及、]|\band\b", re.I)
# "the targets for A and for B", "the share of A and the share of B": one frame, two things.
# A bare "and" joins words of one thing ("research and development"): it does not split.
_EN_PAIR = re.compile(r"^(?P<frame>.+?\b(?:for|of)\s+)(?P<first>.+?),?\s+and\s+(?P<link>for|of|the)\s+(?P<second>.+)$", re.I)
# jieba part-of-speech tags of proper names, and of the nouns that may start one.
PROPER = frozenset({"nr", "ns", "nt", "nz", "nrt", "nrfg"})
_NOUNS = PROPER | {"n", "j"}
# What may stand between a proper noun and a name suffix: "天山|第一|小学", "长宁|实验|小学".
_MODIFIERS = frozenset({"m", "vn", "n"})
MODIFIERS = 2
# jieba's tags for a place (ns) and an organisation (nt); a tagged word this long is a name
# ("上海动物园", "瑞金医院"), a shorter one often a common word.
_PLACE_OR_BODY = frozenset({"ns", "nt"})
LONG_NAME = 4


@lru_cache(maxsize=1)
def gazetteer() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Place → (kind, the ways to write it), from lexicon/places.tsv."""
    places = {}
    for line in (LEXICON / "places.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, kind, *aliases = line.split("\t")
            places[name] = (kind, (name, *" ".join(aliases).split()))
    return places


@lru_cache(maxsize=1)
def bodies() -> dict[str, tuple[str, ...]]:
    """Company or brand → the ways to write it, from lexicon/bodies.tsv."""
    found = {}
    for line in (LEXICON / "bodies.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, *aliases = line.split("\t")
            found[name] = (name, *" ".join(aliases).split())
    return found


def ways_of(name: str) -> tuple[str, ...]:
    """All the ways to write a company or brand the question names one way of ("东方航空"
    is also "东航"); any other name is written one way."""
    return next((ways for ways in bodies().values() if name in ways), (name,))


@lru_cache(maxsize=1)
def units() -> dict[str, str]:
    """Ways to write a unit of measure → the unit as the plan writes it (lexicon/units.txt);
    longest first, so that 亿元 is found before 元."""
    ways = {}
    for line in (LEXICON / "units.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            unit, _, aliases = line.partition("\t")
            ways.update({way.strip(): unit.strip() for way in [unit, *aliases.split(",")] if way.strip()})
    return dict(sorted(ways.items(), key=lambda item: -len(item[0])))


def _units(q: str) -> tuple[str, ...]:
    """The units the question asks a figure in, as the plan writes them (亿元 in "多少亿元", not
    元): a Chinese unit right after 多少/几/每 ("岁数" or "单位是“岁”" ask for no figure in
    years), an English one anywhere ("in billions of yuan")."""
    found, rest = [], q
    for way, unit in units().items():
        asked = (says(rest, way) if way.isascii()
                 else re.search(rf"(?:多少|几|每)\s*{re.escape(way)}", rest) is not None)
        if asked:
            found.append(unit)
            rest = re.sub(re.escape(way), " ", rest, flags=re.I)
    return tuple(dict.fromkeys(found))


@lru_cache(maxsize=1)
def name_suffixes() -> tuple[str, ...]:
    words = {w for line in (LEXICON / "named_suffixes.txt").read_text(encoding="utf-8").splitlines()
             if not line.startswith("#") for w in line.split()}
    return tuple(sorted(words, key=len, reverse=True))


@lru_cache(maxsize=1)
def _home_ways() -> frozenset[str]:
    return frozenset(way for kind, ways in gazetteer().values() if kind == "home" for way in ways)


def is_home(word: str) -> bool:
    """Whether the word is one of the ways to write Changning itself (长宁, 长宁区, Changning)."""
    return word in _home_ways()


def english_name(place: str) -> str:
    """The place's English name from the gazetteer ("静安区" → "Jing'an"); other words as they are."""
    _, ways = gazetteer().get(place, ("", ()))
    return next((way for way in ways if way.isascii()), place)


def mentions(text: str, place: str) -> bool:
    """Whether the text names the place, in any of its ways of writing it."""
    _, ways = gazetteer()[place]
    return any(says(text, way) for way in ways)


def says(text: str, word: str) -> bool:
    """Whether the text writes the word: English as a whole word in any case, Chinese anywhere."""
    if word.isascii():
        return re.search(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", text, re.I) is not None
    return word in text


def read(own_text: str, standalone: str | None = None, in_conversation: bool = False,
         earlier: tuple[str, ...] = ()) -> Reading:
    """What the question (rewritten as `standalone` when it is a follow-up) asks and pins down;
    `earlier`: the conversation's turns, oldest first, for the part of the plan it is on."""
    # Years stay as written (titles say 二〇三五年); years and periods are read in Arabic digits.
    q = normalize(standalone or own_text)
    own = normalize(own_text)
    rows = _rows(own, table_in_view=names_table(q)) or _step_row(own, q)
    # What is asked, from the question's own words when they ask something ("长宁打算在哪些
    # 站点周边搞？" after "TOD是什么意思？" lists, it does not define); else from the conversation.
    asked, pinned = told_apart(own)
    ask = asked if _ASKS.search(own) or q == own else q
    listing = bool(_LISTING.search(ask) or PARTS.search(ask))
    refs = _outline_refs(own) or _refs_from_conversation(own, earlier)
    # "第四章开头提到哪些类型的经济？" asks what the chapter's opening paragraph says, not
    # for the chapter's sections.
    listing = (listing or bool(refs and _ABOUT.search(ask))) and not (refs and _OPENING.search(own))
    asked_units = _units(own)
    measure = next((measure for measure, pattern in _ASKED.items() if pattern.search(ask)), None)
    if measure == "count" and asked_units:
        measure = None  # "how many yuan of tax per square metre": a figure in the unit named, not a count
    table = bool(rows) or bool(_TABLE.search(own) and _TABLE_ASK.search(own))
    # A unit asks for a figure ("GDP, in billions of yuan"), unless it names a column of the
    # indicator table ("指标表里单位是“岁”的那一项").
    asks_in_unit = bool(asked_units) and not _TABLE.search(own)
    asks_kind = bool(_KIND_ASK.search(own))
    # "叫什么名字" asks who, unless what it names is a place or body ("那家医院叫什么名字？").
    asks_person = bool(_PERSON.search(own)) and not (_ASKS_NAME.search(own) and any(s in own for s in name_suffixes()))
    return Reading(
        text=q,
        own_text=own,
        # "哪几条…分别是什么" lists; it does not count.
        numeric=bool(_NUMERIC.search(ask) or ((measure or asks_in_unit) and not listing))
        and not (listing and _WHAT.search(ask)) and not asks_kind,
        listing=listing,
        locate=bool(_LOCATE.search(ask)),
        define=bool(_DEFINE.search(ask)),
        period=_period(arabic_years(own)) or _period(arabic_years(q)),  # its own words first: "2025年的目标呢？"
        measure=measure,
        rates=tuple(t for t in lexical_tokens(q) if len(t) >= 2 and t.endswith("率")),
        places=tuple(p for p, (kind, _) in gazetteer().items()
                     if kind != "home" and mentions(_LEVEL.sub(" ", pinned), p)),
        one_year=bool(_ONE_YEAR.search(pinned)),
        years=tuple(sorted({int(y) for y in _YEAR.findall(arabic_years(pinned))}
                           | {end for pattern, end in _OTHER_PERIODS if pattern.search(pinned)})),
        units=asked_units,
        rows=rows,
        outline_refs=refs,
        table=table,
        asks_kind=asks_kind,
        names=_names(pinned),
        asks_person=asks_person,
        asks_name=bool(_ASKS_NAME.search(own)) and not asks_person,
        instructs=bool(_INSTRUCTS.search(own)),
        asks_opinion=bool(_OPINION.search(asked) or _YOUR_VIEW.search(own)),
        unstated=next((kind for kind, pattern in _NEVER_STATED.items() if pattern.search(asked)), None),
        parts=split_parts(own),
        subject=_subject(q),
        pinned=pinned,
        asked=asked,
        in_conversation=in_conversation,
    )


def told_apart(q: str) -> tuple[str, str]:
    """(the clauses that ask, the question without the clauses where the asker tells their
    own story). A clause asks when it has an asking word or a question's ending; a story
    clause does not ask and names the narrator ("我住在天山新村，…几张养老床位？"), or
    belongs to a sentence that does not ask and names them. What the story names or dates
    ("天山公园", "亲眷在普陀那边") does not pin the answer down, and words in it ("用不了
    多久") do not say what is asked. Either part is the whole question when nothing is left."""
    asking, kept = [], []
    for sentence in re.findall(r"[^。!?！？]+[。!?！？]*", q):
        clauses = [c.strip() for c in re.findall(r"[^,，;；。!?！？]+[,，;；。!?！？]*", sentence)]
        asks = [bool(_ASKING_CLAUSE.search(c.rstrip(",，;；。!！ "))) for c in clauses]
        for clause, asked in zip(clauses, asks):
            if asked:
                asking.append(clause)
            if asked or not (_NARRATOR.search(clause) or not any(asks) and _NARRATOR.search(sentence)):
                kept.append(clause)
    return " ".join(asking) or q, " ".join(kept) or q


def topic_words(text: str) -> str:
    """The text without the words that ask for parts or point at the plan's own parts
    ("…这一节包括哪几块内容" → "…"): what it names, for matching against titles."""
    for pattern in (PARTS, _LISTING, _POINTER):
        text = pattern.sub(" ", text)
    return text


def _subject(q: str) -> str:
    """What a question is about, without the words that point at the plan or ask where."""
    subject = _FRAME.sub(" ", _LOCATE.sub(" ", q))
    return normalize(re.sub(r"[?？,，。]", " ", subject)) or q


def _period(q: str) -> str | None:
    return "past" if _PAST.search(q) else "future" if _FUTURE.search(q) else None


def names_table(text: str) -> bool:
    """Whether the text names the main-indicator table or its columns (followup.py: an
    ordinal in a conversation about the table is a row, not an item of the last answer)."""
    return bool(_TABLE.search(text))


def _step_row(own: str, standalone: str) -> tuple[int, ...]:
    """"下一项呢？" after a question about row 9 is row 10 (the rows named before, in the
    rewritten question, are the earlier turn's)."""
    step = 1 if _NEXT_ROW.search(own) else -1 if _PREVIOUS_ROW.search(own) else 0
    before = _rows(standalone) if step else ()
    return (before[-1] + step,) if before and 1 <= before[-1] + step <= 22 else ()


def _outline_refs(q: str) -> tuple[tuple[int, int | None], ...]:
    """Chapters and sections the question points at: "第九章" → (9, None), "第六章第二节" → (6, 2),
    "section 2 of chapter 6" → (6, 2)."""
    refs = [(LAST_CHAPTER, None)] if _LAST_CHAPTER.search(q) else []
    for m in (m for pattern in (_OUTLINE_REF, *_OUTLINE_REF_EN) for m in pattern.finditer(q)):
        chapter = number_of(m.group("chapter"))
        named = m.group("section") or (m.groupdict().get("paren"))
        section = number_of(named) if named else None
        if chapter:
            refs.append((chapter, section))
    # "section 3 of chapter 9" also reads as "chapter 9": the section is what is meant.
    refs = [(c, s) for c, s in refs if s is not None or not any(c == c2 and s2 for c2, s2 in refs)]
    return tuple(dict.fromkeys(refs))


def _refs_from_conversation(own: str, earlier: tuple[str, ...]) -> tuple[tuple[int, int | None], ...]:
    """The part of the plan a follow-up points at: "第二节" in the chapter the conversation
    was last on, "这一节" / "its" the chapter or section it last named (a turn of either side)."""
    bare = _BARE_SECTION.search(own)
    if not earlier or not (bare or _POINTER.search(own)):
        return ()
    for turn in reversed(earlier):
        if refs := _outline_refs(normalize(turn)):
            chapter, section = refs[-1]
            if bare:
                return ((chapter, number_of(bare.group("section") or bare.group("en"))),)
            return ((chapter, section),)
    return ()


def _rows(q: str, table_in_view: bool = True) -> tuple[int, ...]:
    """The rows the question addresses by number; a bare ordinal only `table_in_view`."""
    rows = []
    for m in _ROW_RUN.finditer(q):
        first, last = number_of(m.group(1)), number_of(m.group(2))
        if first and last and 1 <= first < last <= 22:
            rows += range(first, last + 1)
    for m in _ROW.finditer(q):
        if m.group(0).startswith(("第", "最后")) and not (m.group("named") or table_in_view):
            continue
        if m.group("last"):
            rows.append(22)  # the table has 22 rows (checked against the outline by a test)
            continue
        value = number_of(next(g for g in (m.group(1), m.group(3), m.group(4), m.group(5)) if g))
        if value and 1 <= value <= 22:
            rows.append(value)
    return tuple(dict.fromkeys(rows))


def _names(q: str) -> tuple[tuple[str, str], ...]:
    """Names of places and bodies the question mentions, as (name, its common part): the
    companies and brands of lexicon/bodies.tsv ("美团", "Tencent"), and
    a word followed by (or ending in) a suffix such as 公园, 医院, 街道. After a proper
    noun ("长宁区中心医院", "周家桥街道") or kept whole by jieba ("同仁医院") the name is
    proper and its common part is ""; after a common noun ("社区医院") the plan writing
    that noun (社区) is enough — the verdict judges. Verbs and adjectives do not name
    ("新开幼儿园"). A place or body jieba tags as such and writes with four characters or
    more ("上海动物园") is a name too."""
    known = [(way, "") for ways in bodies().values() for way in ways if says(q, way)]
    known += [(re.sub(r"\s+", "", line), "") for line in _METRO_LINE.findall(q)]  # "15号线" names one line
    tokens = pos_tokens(q)
    # "长宁跨国公司" is Changning's 跨国公司: the plan writing 跨国公司 is enough.
    names = [(before + word, word if is_home(before) else "" if proper else before)
             for before, word, proper in suffixed_names(tokens)]
    for word, flag in tokens:
        suffix = next((s for s in name_suffixes() if word.endswith(s)), None)
        if suffix and len(word) > len(suffix) + 1 and flag in PROPER:
            names.append((word, ""))  # "同仁医院", "招商银行": jieba keeps the name whole
        elif (flag in _PLACE_OR_BODY and len(word) >= LONG_NAME and re.fullmatch(r"[\u4e00-\u9fff]+", word)
              and not any(word in name for name, _ in names)):
            names.append((word, ""))  # "上海动物园": a place or body jieba knows by name
    return tuple(dict.fromkeys(known + names))


def pos_tokens(text: str) -> list[tuple[str, str]]:
    """jieba's (word, part of speech) tokens, blanks left out. Imported here, on first use:
    part-of-speech tagging loads a dictionary of its own."""
    import jieba.posseg

    return [(w, flag) for w, flag in jieba.posseg.lcut(text) if w.strip()]


def suffixed_names(tokens: list[tuple[str, str]]) -> list[tuple[str, str, bool]]:
    """Names made of a noun and a word ending in a name suffix, from jieba's (word, part of
    speech) tokens: (the noun, the suffixed word, whether the noun is a proper noun) —
    ("长风", "公园", False), ("长宁区", "中心医院", True). A proper noun a few modifiers
    before the suffix makes the name proper: ("长宁实验", "小学", True), ("天山第一", "小学",
    True). Verbs and adjectives do not name."""
    found = []
    for i, (word, _) in enumerate(tokens):
        if i == 0 or not any(word.endswith(s) for s in name_suffixes()):
            continue
        before, kind = tokens[i - 1]
        if kind not in _NOUNS | _MODIFIERS or not re.fullmatch(r"[\u4e00-\u9fff]+", before) or _counts(before, kind):
            continue
        chain = [before]
        for earlier, flag in reversed(tokens[max(0, i - 1 - MODIFIERS):i - 1]):
            if flag in PROPER and kind not in PROPER:
                before, kind = earlier + "".join(reversed(chain)), flag
                break
            if flag not in _MODIFIERS or _counts(earlier, flag):
                break
            chain.append(earlier)
        if kind in _NOUNS and len(before) >= 2:
            found.append((before, word, kind in PROPER))
    return found


def _counts(word: str, flag: str) -> bool:
    """Whether a numeral counts things ("一家公司", "两所学校": some company, not a name);
    an ordinal names one ("天山第一小学")."""
    return flag == "m" and not word.startswith("第")


@lru_cache(maxsize=4096)
def names_a_place(sentence: str) -> bool:
    """Whether a sentence names a place or body properly: a proper noun and a name suffix
    ("新建杨宅路幼儿园", "依托上海国际体操中心和虹桥体育公园"), not a kind of one ("3所公办幼儿园")."""
    if not any(suffix in sentence for suffix in name_suffixes()):
        return False
    return any(proper for _, _, proper in suffixed_names(pos_tokens(sentence)))


def split_parts(q: str) -> tuple[str, ...]:
    """The separate questions in one: pieces that each ask something, or "A和B分别…"
    split into "A…" and "B…". One part (or none) means a single question."""
    # normalize() has made the punctuation half-width: "，" is "," here.
    pieces = [p.strip(" ，,。.") for p in _PART_BREAK.split(q)]
    pieces = [p for p in pieces if len(p) >= 4]
    asking = [p for p in pieces if _ASKS.search(p)]
    if len(asking) >= 2:
        return tuple(pieces)
    pair = _EN_PAIR.match(q)
    if pair:
        second = ("the " if pair.group("link").lower() == "the" else "") + pair.group("second")
        return (f"{pair.group('frame')}{pair.group('first')}?", f"{pair.group('frame')}{second}")
    each = _EACH.match(q)
    if each:
        things = [t.strip() for t in _AND.split(each.group("things")) if t.strip()]
        if len(things) >= 2 and all(len(t) >= 2 for t in things):
            return tuple(f"{t}{each.group('ask')}" for t in things)
    return ()


def first_quantity(sentence: str, measure: str | None = None) -> str:
    """The first figure the sentence states, in the kind asked for when one is ("850 张",
    "33.33%"), or "" when it states none."""
    match = (_STATED[measure].search(sentence) if measure else None) or _FIGURE.search(sentence)
    return normalize(match.group(0)) if match else ""


def states_quantity(sentence: str, measure: str | None = None) -> bool:
    """Whether the sentence states a quantity of that kind (any quantity when `measure` is None).
    The plan's own periods are names, not quantities: "第十四个五年规划和二〇三五年远景目标"
    states no figure."""
    return bool((_STATED[measure] if measure else _QUANTITY).search(_PLAN_PERIODS.sub(" ", sentence)))
