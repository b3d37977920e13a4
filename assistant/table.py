"""The main-indicator table (二（四）, 22 rows) queried as a table.

Staff filter its rows the way they would filter a spreadsheet: by row number, by unit,
by the kind of target (a level to reach by 2025, a yearly rate, a five-year total, an
assigned target; 约束性 or 预期性), by words of the target, or by topic. Every column is
read from the rows themselves; the kinds are read from the target's wording, and the
table's note says that only the rows with assigned (市下达) targets are not 预期性.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

from assistant.chunks import Chunk
from assistant.text import lexical_tokens, normalize, squash
from assistant.types import Reading

# Kinds of target, by how the target is worded, and the words a question uses for each.
KINDS = {
    "assigned": (re.compile(r"市下达"), re.compile(r"市下达|约束性|下达|binding|assigned", re.I)),
    "cumulative": (re.compile(r"累计"), re.compile(r"累计|五年(?:一共|总共|合计)|总量|cumulative|in total|over (?:the )?five years", re.I)),
    "annual": (re.compile(r"年均|每年"), re.compile(r"年均|每年|增速|增长率|annual|yearly|per year|growth rate", re.I)),
    "level": (re.compile(r"20\d\d年达到"), re.compile(r"(?<!没有)(?<!不是)(?:达到(?:一个)?具体|具体数)|(?:2025年?|到期末)要?达到|level|reach", re.I)),
    "relative": (re.compile(r"同步|高于"), re.compile(r"同步|挂钩|跟.*一致|相对|in step|in line", re.I)),
    # No figure but a year ("2025年基本覆盖全区"), nor an assigned one.
    "qualitative": (re.compile(r"^(?!.*\d(?!\d*年))(?!.*市下达)"), re.compile(r"定性|没有具体数|没有数字|不是数字|qualitative", re.I)),
}
EXPECTED = re.compile(r"预期性|expected|indicative", re.I)
_NEGATED = re.compile(r"(?:不属于|不是|并非|非|not(?: an?)?)\s*$", re.I)
_UNIT_WORDS = {"%": re.compile(r"%|百分比|百分数|百分率|percent", re.I), "-": re.compile(r"没有(?:计量)?单位|无(?:计量)?单位|单位.{0,6}[“\"]?-|横杠|no unit", re.I)}
_COUNT = re.compile(r"几项|多少项|几个|多少个|how many", re.I)
TOPIC_SHARE = 0.5  # a row matches a topic when its name holds this share of the topic's words


@dataclass(frozen=True)
class Row:
    chunk: Chunk
    number: int
    name: str
    unit: str
    target: str

    @property
    def label(self) -> str:
        """Its name with its unit, as answers write a row: "精品小区建设面积（万平方米）"."""
        return self.name if self.unit in {"-", ""} else f"{self.name}（{self.unit}）"

    @property
    def kinds(self) -> set[str]:
        return {kind for kind, (wording, _) in KINDS.items() if wording.search(self.target)} | (
            {"annual"} if "年均" in self.name else set())


class IndicatorTable:
    def __init__(self, chunks: list[Chunk]) -> None:
        self.rows = []
        for chunk in chunks:
            if chunk.kind == "indicator":
                name, unit, target = (part.strip() for part in chunk.text.split("\t"))
                self.rows.append(Row(chunk, chunk.indicator, name, unit, target))
        self.rows.sort(key=lambda r: r.number)
        self.units = sorted({r.unit for r in self.rows}, key=len, reverse=True)
        around = [c for c in chunks if c.kind == "paragraph" and self.rows
                  and (c.chapter, c.section) == (self.rows[0].chunk.chapter, self.rows[0].chunk.section)]
        # The words around the table (its caption and note) name the table, not a topic of its rows.
        self._around = " ".join(c.text for c in around)
        # The note that sorts the rows into expected (预期性) and assigned ones.
        self.note = next((c for c in around if EXPECTED.search(c.text)), None)

    def select(self, reading: Reading) -> list[Row]:
        """The rows a question over the table asks for, or [] when it asks nothing a
        column can answer (then it is an ordinary question)."""
        if not reading.table:
            return []
        if reading.rows:
            return [r for r in self.rows if r.number in reading.rows]
        q = normalize(reading.own_text)
        filters = [f for f in (self._by_unit(q), self._by_kind(q), self._by_wording(q)) if f is not None]
        topical = self._by_topic(q)
        if topical is not None and (filters or topical):
            filters.append(topical)
        if not filters:  # "主要指标有哪些？", "一共有多少项？": the whole table
            return list(self.rows) if (reading.listing or self.counts(reading)) and topical is None else []
        return [r for r in self.rows if all(r.number in f for f in filters)]

    def _by_unit(self, q: str) -> set[int] | None:
        wanted = {unit for unit, words in _UNIT_WORDS.items() if words.search(q)}
        wanted |= {u for u in self.units if u not in ("%", "-") and re.search(rf"[“\"‘'「]?{re.escape(u)}[”\"’'」]?", q)
                   and (len(u) > 1 or re.search(rf"单位[是为用]?[“\"‘'「]?{re.escape(u)}|[以用按]{re.escape(u)}|{re.escape(u)}[”\"’'」]?(?:做|为|来)?(?:单位|计)", q))}
        # "元/平方米" also names "平方米": keep the longest unit a question names.
        wanted = {u for u in wanted if not any(u != v and u in v for v in wanted)}
        return {r.number for r in self.rows if r.unit in wanted} if wanted else None

    def _by_kind(self, q: str) -> set[int] | None:
        asked = {kind for kind, (_, words) in KINDS.items() if words.search(q)}
        expected, assigned = EXPECTED.search(q), KINDS["assigned"][1].search(q)
        if any(_NEGATED.search(q[:m.start()]) for m in EXPECTED.finditer(q)):  # "不属于预期性的": the assigned ones
            return {r.number for r in self.rows if "assigned" in r.kinds}
        # "binding rather than indicative", "预期性而不是约束性": the kind named first is asked for.
        if expected and not (assigned and assigned.start() < expected.start()):
            return {r.number for r in self.rows if "assigned" not in r.kinds}
        if not asked:
            return None
        return {r.number for r in self.rows if r.kinds & asked}

    def _by_wording(self, q: str) -> set[int] | None:
        """Rows whose target contains a quoted or distinctive phrase of the question ("以上")."""
        quoted = re.findall(r"[“\"‘'「]([^”\"’'」]{1,12})[”\"’'」]", q)
        phrases = [p for p in quoted if p not in self.units and not any(p in r.name for r in self.rows)]
        phrases += [p for p in ("以上", "左右", "不少于", "基本") if p in q and p not in phrases]
        hits = {r.number for r in self.rows if any(p in r.target for p in phrases)}
        return hits or None

    def _by_topic(self, q: str) -> set[int] | None:
        """Rows whose name shares words with the question's topic words (养老, 就业, 绿化)."""
        words = set(lexical_tokens(q)) - _table_words() - self._around_words
        if not words:
            return None
        matched = set()
        for row in self.rows:
            name = set(lexical_tokens(row.name)) | {row.name}
            if any(w in row.name or w in name for w in words if len(w) >= 2):
                matched.add(row.number)
        return matched or None

    @cached_property
    def _around_words(self) -> set[str]:  # tokenized on first use, like _table_words
        return set(lexical_tokens(self._around))

    def row_of(self, chunk: Chunk) -> Row | None:
        """The row an indicator chunk holds (None for any other chunk)."""
        return next((r for r in self.rows if chunk.kind == "indicator" and r.number == chunk.indicator), None)

    def named_in(self, text: str) -> Row | None:
        """The row whose name (without its unit) the text writes; the longest name wins."""
        squashed = squash(text)
        named = [r for r in self.rows if squash(re.sub(r"[（(][^）)]*[）)]$", "", r.name)) in squashed]
        return max(named, key=lambda r: len(r.name)) if named else None

    def counts(self, reading: Reading) -> bool:
        return bool(_COUNT.search(reading.own_text))


# Words that talk about the table itself, not a topic of its rows.
_TABLE_TALK = ("主要指标 指标 指标表 表 目标 目标值 单位 项 哪些 哪几 几项 多少项 各是 分别 类型 种类 十四五 2025年 达到 写 算 按 计 "
               "有关 相关 跟 和 都 那些 这些 那几 一栏 具体 数 什么 怎么 定 的 是 用 以 做 来 里 中 下面 哪个 要 "
               "indicators indicator table main which what list unit target targets listed measured")


@lru_cache(maxsize=1)
def _table_words() -> frozenset[str]:
    return frozenset(lexical_tokens(_TABLE_TALK))  # tokenized on first use: jieba loads its dictionary
