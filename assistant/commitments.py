"""The plan's commitments as a ledger: one record per target, indicator or dated promise.

Records come from three places, each read by rules rather than a list of known targets:
- the 22 rows of the main-indicator table (kind "indicator");
- chapters 二–十一, clause by clause: a number with a unit after a commitment verb is a
  quantified target ("target"); a clause dated "2025年" or bound to "完成市下达指标"
  without a number is a qualitative commitment ("qualitative");
- the "十三五" results in 一（一）, read with the same rules but kept apart as
  "achievement" so that past results never pass for targets.

Values are copied as written, whitespace removed ("2-3家", "6800元/平方米"); bound
words ("以上", "左右", "不少于") go to `qualifier` so the value stays the bare amount.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path

from assistant.chunks import cn_numeral
from assistant.config import Settings
from assistant.outline import Indicator, Outline, Paragraph, parse_outline, read_plan
from assistant.text import split_sentences, squash

KINDS = ("indicator", "target", "qualitative", "achievement")
PERIODS = ("2025年", "五年累计", "每年", "年均", "十四五期间")
FORMATS = ("table", "csv", "json")

# Kinds as the chat page shows them.
KIND_NAMES = {"indicator": "主要指标", "target": "量化目标", "qualitative": "定性承诺", "achievement": "“十三五”成就"}

# --- the vocabulary of the rules -----------------------------------------------------

# Arabic digits only: in this plan Chinese numerals name things ("四大功能", "两张网",
# "十百千万亿"), they never state an amount to reach.
_NUMBER = r"\d+(?:\.\d+)?(?:\s*[-－~～—]\s*\d+(?:\.\d+)?)?"
_MEASURE = ("个百分点|平方米|公里|美元|元|人次|场次|车次|人|户|家|个|所|条|处|座|项|张|台|套|幢|件|分|岁|次|场"
            "|辆|名|吨|千瓦")
_UNIT = rf"(?:%|[万亿]?(?:{_MEASURE}))(?:/(?:平方米|千人|万人|人|天|年))?"
# A quantity never follows 每 ("每10万人": a denominator) or 第 (an ordinal), nor sits
# inside a code ("B2B", "PM2.5"); "15分钟" is a name, not 15 points.
_QUANTITY = re.compile(rf"(?<![每第A-Za-z0-9._{{])({_NUMBER})\s*({_UNIT})(?![钟A-Za-z0-9])")
# "…发生率力争为零": zero written as a word, the one amount this plan spells out.
_ZERO = re.compile(r"(?:力争|保持|确保)?为(零)$")

# A quantity is a commitment only when a verb of reaching, keeping or adding stands
# before it in its clause; this keeps out "9个市控断面", "2号线", "680弄".
_TRIGGER = re.compile(
    "达到|达|超过|高于|不少于|不低于|不超过|控制在|保持|完成|新增|新建|新开工|新竣工|开竣工|开工|竣工|"
    "新培育|培育|集聚|营造|推动|改造|提升|提高|降低|减少|增加|增长|创评|供应|实现|建成|引进|拥有|覆盖|惠及|帮助|消除"
)
# "A 5家、B 3家" and "分别达到 A 和 B": an item after an accepted quantity shares its verb.
_LIST_JOINER = re.compile(r"^\s*[、和及与]")
# Words that frame a target rather than name it; stripped from the front of a metric.
# Hedges and urgings ("力争", "确保"): they frame a target's metric and a qualitative goal alike.
_HEDGES = "力争|争取|努力|确保|进一步|持续|不断|加快|积极|大力"
_FRAME = re.compile(rf"^(?:{_HEDGES}|推进|推动|实现|保持|营造|培育集聚|培育引进|成功|累计|每年)+")
# Words that link a metric to its value; stripped from the end of a metric.
_LINK = re.compile(r"(?:累计)?(?:分别)?(?:达到|达|完成|提高到|提升至|提升到|降低到|降至|力争为|为)?$")
_BOUND_BEFORE = re.compile(r"(不少于|不低于|不超过|超过|控制在|约|近|超|逾)\s*$")
_BOUND_AFTER = re.compile(r"^\s*(以上|左右|以内|以下)")
# Verbs that alone make no metric: "新竣工200万平方米" borrows its noun from the record before.
_COUNTING_VERBS = "新增|新建|新开工|新竣工|开竣工|开工|竣工|完成|改造提升|建成"
_BARE_VERB = re.compile(rf"^(?:{_COUNTING_VERBS})+$")
_BARE_VERB_PREFIX = re.compile(rf"^(?:{_COUNTING_VERBS})")
_BARE_VERB_SUFFIX = re.compile(rf"(?:累计)?(?:{_COUNTING_VERBS})$")
# A metric that starts with a predicate lacks its subject ("占全区税收比重达到30%").
_PREDICATE_START = re.compile(r"^(?:占|高于|低于)")
_SUBJECT_END = re.compile(r"年均|增速|占|高于|低于|比重")

_YEAR = re.compile(r"(?:到|在|至)?\s*(20\d\d)\s*年\s*(?:底|末)?(?:前)?")
_DATE_ONLY = re.compile(r"^(?:到|在|至)?20\d\d年(?:底|末)?(?:前)?$")
_CITY_QUOTA = re.compile(r"(?:确保)?((?:完成|控制在)市下达(?:指标|目标)(?:以内)?)")
_QUALITATIVE_VERB = re.compile(r"(?:基本)?(?:实现|完成|控制在|取得|迈出|迈上|建成|覆盖|达到|保持)")
_OPEN, _CLOSE = "（(“‘《〈[", "）)”’》〉]"
# Hedges and urgings that frame a qualitative goal; "实现" stays, it is the goal's verb.
_MODAL = re.compile(rf"^(?:{_HEDGES})+")


def _compact(text: str) -> str:
    """Whitespace removed, every other character as the plan writes it (unlike squash, no NFKC)."""
    return re.sub(r"\s+", "", text)


@dataclass(frozen=True)
class Commitment:
    """One commitment of the plan, with where it stands (chapter/section/indicator as in
    ../shared/CONTRACT.md) and the clause that states it (`quote`, verbatim)."""

    id: str
    metric: str
    value: str  # as written, whitespace removed: "850张", "2-3家", "完成市下达指标"
    number: float | None  # the value's number; None for ranges and words
    unit: str | None  # the unit written with the number: "张", "元/平方米"
    period: str | None  # a year ("2025年") or one of PERIODS; None when the plan names no time frame
    kind: str  # one of KINDS
    chapter: int
    section: int | None
    indicator: int | None
    label: str  # as in chunks: "第九章（六）大力提升养老服务水平 · 优化养老机构布局"
    quote: str
    qualifier: str | None = None  # the bound written with the value: 以上, 左右, 不少于, 超过, 约
    source: str = ""  # the paragraph the quote is in: "c09-s06-p02", "ind-06"

    @property
    def place(self) -> str:
        """"第九章（六）", "第二章（四）指标6", "第八章"."""
        place = f"第{cn_numeral(self.chapter)}章"
        if self.section is not None:
            place += f"（{cn_numeral(self.section)}）"
        if self.indicator is not None:
            place += f"指标{self.indicator}"
        return place

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Commitment:
        """Inverse of to_dict; also takes the all-strings rows of a CSV export."""
        def optional(key, kind):
            value = data.get(key)
            return None if value in (None, "") else kind(value)

        return cls(
            id=data["id"], metric=data["metric"], value=data["value"], number=optional("number", float),
            unit=optional("unit", str), period=optional("period", str), kind=data["kind"],
            chapter=int(data["chapter"]), section=optional("section", int), indicator=optional("indicator", int),
            label=data["label"], quote=data["quote"], qualifier=optional("qualifier", str),
            source=data.get("source") or "",
        )


@dataclass
class Ledger:
    """All records, in plan order, with the paragraphs their quotes come from."""

    records: list[Commitment]
    passages: dict[str, str] = field(default_factory=dict)

    def filter(self, grep: str | None = None, chapter: int | None = None, kind: str | None = None) -> list[Commitment]:
        """Records whose text contains `grep` (case and whitespace ignored), in `chapter`, of `kind`."""
        needle = squash(grep).lower() if grep else ""
        return [
            r for r in self.records
            if (chapter is None or r.chapter == chapter)
            and (kind is None or r.kind == kind)
            and (not needle or needle in _haystack(r))
        ]

    def passage(self, record: Commitment) -> str:
        """The whole paragraph (or indicator row) the record's quote comes from."""
        return self.passages.get(record.source, record.quote)


def _haystack(record: Commitment) -> str:
    return squash(" ".join([record.metric, record.value, record.quote, record.label, record.place,
                            record.period or ""])).lower()


@lru_cache(maxsize=4)
def load_ledger(plan_path: Path | None = None) -> Ledger:
    """The ledger of the plan at `plan_path` (default: Settings().plan_path)."""
    return build_ledger(parse_outline(read_plan(plan_path or Settings().plan_path)))


def build_ledger(outline: Outline) -> Ledger:
    records: list[Commitment] = []
    passages: dict[str, str] = {}
    for source, label, chapter, section, paragraph in _paragraphs(outline):
        passages[source] = paragraph.text
        kind = "achievement" if (chapter, section) == (1, 1) else "target"
        if chapter == 1 and kind == "target":
            continue  # 一（二）形势 and 一（三）2035 vision state no commitments of this plan
        found = _paragraph_records(paragraph.text, kind)
        records += [
            Commitment(id=f"{source}.{n}", chapter=chapter, section=section, indicator=None, label=label,
                       source=source, **draft)
            for n, draft in enumerate(found, 1)
        ]
        if chapter == 2 and section == 4 and paragraph is outline.section(2, 4).paragraphs[0]:
            # The table sits right under the first paragraph of 二（四）: keep plan order.
            for indicator in outline.indicators:
                record = _indicator_record(indicator, outline)
                passages[record.source] = indicator.row
                records.append(record)
    return Ledger(records, passages)


def _paragraphs(outline: Outline):
    """(paragraph id, chunk label, chapter, section, paragraph) for chapters 一–十一.

    Ids and labels are those of assistant.chunks, so a record points at the same place
    a retrieved passage does."""
    for chapter in outline.chapters:
        chapter_label = f"第{cn_numeral(chapter.number)}章"
        for i, paragraph in enumerate(chapter.intro, 1):
            label = f"{chapter_label} {chapter.title}"
            yield f"c{chapter.number:02d}-p{i:02d}", _with_lead(label, paragraph), chapter.number, None, paragraph
        for section in chapter.sections:
            label = f"{chapter_label}（{cn_numeral(section.number)}）{section.title}"
            for i, paragraph in enumerate(section.paragraphs, 1):
                yield (f"c{chapter.number:02d}-s{section.number:02d}-p{i:02d}", _with_lead(label, paragraph),
                       chapter.number, section.number, paragraph)


def _with_lead(label: str, paragraph: Paragraph) -> str:
    return f"{label} · {paragraph.lead}" if paragraph.lead else label


# --- indicators ------------------------------------------------------------------------

def _indicator_record(indicator: Indicator, outline: Outline) -> Commitment:
    table = outline.section(2, 4)
    target = indicator.target
    match = _QUANTITY.search(target)
    if match:
        value, number, unit = _value(match)
        qualifier = _bound(target[:match.start()], target[match.end():])
    else:
        # No amount: the target itself is the value, less its time frame ("2025年基本覆盖全区").
        value, number, unit, qualifier = _compact(re.sub(r"^(?:20\d\d年|五年累计|每年)", "", target)), None, None, None
    return Commitment(
        id=f"ind-{indicator.number:02d}", metric=indicator.name, value=value, number=number, unit=unit,
        period=_period(target) or _period(indicator.name), kind="indicator", chapter=2, section=4,
        indicator=indicator.number, label=f"第二章（四）{table.title} · 指标{indicator.number} {indicator.name}",
        quote=indicator.row, qualifier=qualifier, source=f"ind-{indicator.number:02d}",
    )


# --- chapter text ----------------------------------------------------------------------

def _paragraph_records(text: str, kind: str) -> list[dict]:
    """Record fields (all but the place) for each commitment in a paragraph."""
    drafts: list[dict] = []
    for sentence in split_sentences(text):
        sentence_period = None  # "到 2025 年，…": a clause that is only a date dates the rest
        previous_clause = ""
        sentence_drafts: list[dict] = []
        for clause in _clauses(sentence):
            bare = _compact(clause)
            if _DATE_ONLY.match(bare):
                sentence_period = _period(bare)
                continue
            found = _clause_targets(clause, previous_clause, sentence_drafts, kind)
            for draft in found:
                draft["period"] = draft["period"] or sentence_period
            if not found and kind == "target":
                found = _clause_qualitative(clause, sentence_period)
            sentence_drafts += found
            previous_clause = clause
        drafts += sentence_drafts
    return drafts


def _clauses(sentence: str) -> list[str]:
    """Clauses split at "，" outside brackets and quotes, without end punctuation."""
    clauses, depth, start = [], 0, 0
    for i, char in enumerate(sentence):
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth = max(0, depth - 1)
        elif char in "，," and depth == 0:
            clauses.append(sentence[start:i])
            start = i + 1
    clauses.append(sentence[start:])
    return [c.strip().rstrip("。！？；").strip() for c in clauses if c.strip().rstrip("。！？；").strip()]


def _clause_targets(clause: str, previous_clause: str, before: list[dict], kind: str) -> list[dict]:
    """Quantified commitments of one clause."""
    accepted: list[re.Match] = []
    window_start = 0
    for match in _QUANTITY.finditer(clause):
        window = clause[window_start:match.start()]
        if _TRIGGER.search(window) or (accepted and _LIST_JOINER.match(window)):
            accepted.append(match)
            window_start = match.end()
    if not accepted and (zero := _ZERO.search(clause)):
        accepted.append(zero)

    # Each quantity owns the text from the separator after the one before it to the
    # separator before the next: "、", or a bare "和" between two values ("1.95 车次/天和 1.85").
    bounds, start = [], 0
    for i, match in enumerate(accepted):
        if i + 1 < len(accepted):
            between = clause[match.end():accepted[i + 1].start()]
            comma = between.find("、")
            joiner = _LIST_JOINER.match(between)
            cut = comma if comma >= 0 else (joiner.end() - 1 if joiner else len(between))
            end = match.end() + cut
            bounds.append((start, end))
            start = end + 1 if cut < len(between) else end
        else:
            bounds.append((start, len(clause)))

    subjects = _respective_subjects(clause, len(accepted))
    drafts = []
    for i, (match, (start, end)) in enumerate(zip(accepted, bounds)):
        head, tail = clause[start:match.start()], clause[match.end():end]
        value, number, unit = _value(match)
        if subjects:
            metric = subjects[i]
        else:
            metric = _metric(head, tail)
            metric = _complete_metric(metric, drafts[-1]["metric"] if drafts else None,
                                      before[-1]["metric"] if before else None, previous_clause)
        drafts.append(dict(
            metric=metric, value=value, number=number, unit=unit,
            # The time frame may open the clause ("每年改造提升1处…、新增1万平方米…").
            period=_period(clause[:match.start()]),
            kind=kind, quote=clause, qualifier=_bound(head, tail),
        ))
    return drafts


def _respective_subjects(clause: str, count: int) -> list[str]:
    """"A、B分别达到 x 和 y" → [A, B]; "A分别达到 x 和 y" → [A, A]; [] when the counts disagree."""
    if count < 2 or "分别" not in clause:
        return []
    head = _FRAME.sub("", _compact(clause.split("分别", 1)[0]))
    subjects = [_FRAME.sub("", s) for s in re.split(r"[、和]", head)]
    if len(subjects) == 1:
        subjects *= count
    return subjects if len(subjects) == count and all(subjects) else []


def _value(match: re.Match) -> tuple[str, float | None, str | None]:
    if match.group(1) == "零":
        return "零", 0.0, None
    number, unit = _compact(match.group(1)), _compact(match.group(2))
    try:
        parsed = float(unicodedata.normalize("NFKC", number))
    except ValueError:
        parsed = None  # a range such as "2-3"
    return number + unit, parsed, unit


def _metric(head: str, tail: str) -> str:
    """What is counted: the clause around the value, less framing and linking words."""
    head = _compact(_BOUND_BEFORE.sub("", head))
    head = _LINK.sub("", head)
    head = _YEAR.sub("", head).replace("“十四五”期间", "")
    head = _FRAME.sub("", head)
    tail = _compact(_BOUND_AFTER.sub("", tail))
    if tail.startswith("、"):
        tail = ""  # "总部累计达 70 家、位居…": the noun came first, a new item follows
    return _LINK.sub("", head) + tail


def _complete_metric(metric: str, same_clause: str | None, same_sentence: str | None, previous_clause: str) -> str:
    """Give a bare verb or a subject-less predicate the noun it refers back to."""
    if _BARE_VERB.match(metric):
        earlier = same_clause or same_sentence
        if earlier and (verb := _BARE_VERB_PREFIX.match(earlier)):
            return metric + earlier[verb.end():]  # 新竣工 + 经济楼宇
        if earlier and (verb := _BARE_VERB_SUFFIX.search(earlier)):
            return earlier[:verb.start()] + metric  # 架空线入地 + 竣工
        if previous_clause:
            return _FRAME.sub("", _compact(previous_clause)) + metric  # 精品小区建设 + 新开工
    if _PREDICATE_START.match(metric) and (same_clause or same_sentence):
        earlier = same_clause or same_sentence
        cut = _SUBJECT_END.search(earlier)
        return (earlier[:cut.start()] if cut else earlier) + metric
    return metric or _compact(previous_clause)


def _bound(head: str, tail: str) -> str | None:
    before, after = _BOUND_BEFORE.search(head), _BOUND_AFTER.match(tail)
    if before and after:
        return f"{before.group(1)}…{after.group(1)}"  # "控制在5%以内"
    return (before.group(1) if before else None) or (after.group(1) if after else None)


def _period(text: str) -> str | None:
    """The time frame a clause names: the year it names, else one of PERIODS."""
    bare = _compact(text)
    if year := _YEAR.search(bare):
        return f"{year.group(1)}年"
    if "“十四五”期间" in bare or "十四五期间" in bare:
        return "十四五期间"
    if "累计" in bare:
        return "五年累计"
    if "每年" in bare:
        return "每年"
    if "年均" in bare:
        return "年均"
    return None


def _clause_qualitative(clause: str, sentence_period: str | None) -> list[dict]:
    """A dated clause without a number, or one bound to the city's quota ("完成市下达指标")."""
    bare = _compact(clause)
    quota = _CITY_QUOTA.search(bare)
    own_year = _YEAR.search(bare)
    if quota:
        metric, value = bare[:quota.start()], quota.group(1)
    elif own_year or sentence_period:
        core = _MODAL.sub("", _YEAR.sub("", _MODAL.sub("", bare)))
        if not core:
            return []
        verb = _QUALITATIVE_VERB.search(core)
        if verb:
            metric, value = core[:verb.start()] or core[verb.end():], core[verb.start():]
        else:
            metric = value = core  # "加快建设具有世界影响力的国际精品城区": the goal names itself
    else:
        return []
    return [dict(metric=_FRAME.sub("", metric), value=value, number=None, unit=None,
                 period=_period(bare) if own_year else sentence_period, kind="qualitative",
                 quote=clause, qualifier=None)]


# --- export ----------------------------------------------------------------------------

_FIELDS = [f.name for f in fields(Commitment)]
_TABLE_COLUMNS = [("编号", 15), ("章节", 18), ("类型", 11), ("期限", 10), ("目标值", 22), ("指标/事项", 44)]


def format_records(records: list[Commitment], fmt: str = "table") -> str:
    """Records as an aligned terminal table, CSV (header row) or a JSON list."""
    if fmt == "json":
        return json.dumps([r.to_dict() for r in records], ensure_ascii=False, indent=1)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=_FIELDS, lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow({k: ("" if v is None else v) for k, v in record.to_dict().items()})
        return out.getvalue().rstrip("\n")
    if fmt == "table":
        return _table(records)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def parse_records(text: str, fmt: str) -> list[Commitment]:
    """Read back what format_records wrote as "csv" or "json"."""
    if fmt == "json":
        return [Commitment.from_dict(d) for d in json.loads(text)]
    if fmt == "csv":
        return [Commitment.from_dict(row) for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))]
    raise ValueError(f"cannot parse {fmt!r}")


def _table(records: list[Commitment]) -> str:
    def row(cells):
        return "  ".join(_fit(str(cell), width) for cell, (_, width) in zip(cells, _TABLE_COLUMNS)).rstrip()

    lines = [row(name for name, _ in _TABLE_COLUMNS), "  ".join("-" * width for _, width in _TABLE_COLUMNS)]
    lines += [row([r.id, r.place, r.kind, r.period or "-", r.value + (f"（{r.qualifier}）" if r.qualifier else ""),
                   r.metric]) for r in records]
    lines.append(f"{len(records)} records")
    return "\n".join(lines)



def _width(text: str) -> int:
    """Terminal columns: CJK and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _fit(text: str, width: int) -> str:
    text = " ".join(text.split())
    if _width(text) > width:
        while _width(text) > width - 1:
            text = text[:-1]
        text += "…"
    return text + " " * (width - _width(text))
