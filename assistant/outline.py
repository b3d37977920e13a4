"""Parse the plan's body text into its outline: chapters, sections, "——" subsection
leads, paragraphs, the main-indicator table and the appendix glossary.

The text was extracted from a PDF. The table of contents is skipped (it disagrees
with the body in places), and paragraphs split by a page break are joined again;
everything else is kept verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from assistant.faults import PlanUnreadable, one_line

CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}

_TOC_LINE = re.compile(r"\.{3,}|\t\s*\d+\s*$|\s\d{1,2}\s*$")
_CHAPTER = re.compile(r"^([一二三四五六七八九十]{1,3})、\s*(\S.*)$")
_SECTION = re.compile(r"^（([一二三四五六七八九十]{1,3})）\s*(\S.*)$")
_INDICATOR_ROW = re.compile(r"^(\d{1,2})\t([^\t]+)\t([^\t]+)\t([^\t]+)$")
_GLOSSARY_ITEM = re.compile(r"^(\d{1,2})\.\s*(.+)$")
_GLOSSARY_SPLIT = re.compile(r"\s*[：:]\s*")
# A paragraph that ends like this is complete; anything else was cut by a page break.
_COMPLETE_END = tuple("。！？；：”」）")
_LEAD_TITLE_MAX = 40


def cn_number(numeral: str) -> int:
    """一 → 1, 十 → 10, 十一 → 11 (numerals up to 九十九)."""
    if numeral.startswith("十"):
        return 10 + (CN_DIGITS[numeral[1]] if len(numeral) > 1 else 0)
    if len(numeral) == 3 or (len(numeral) == 2 and numeral[1] == "十"):
        return CN_DIGITS[numeral[0]] * 10 + (CN_DIGITS[numeral[2]] if len(numeral) == 3 else 0)
    return CN_DIGITS[numeral]


@dataclass
class Paragraph:
    """One paragraph of body text; `lead` is the title of its "——" subsection, if any."""

    text: str
    lead: str | None = None


@dataclass
class Section:
    number: int
    title: str
    paragraphs: list[Paragraph] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.paragraphs)


@dataclass
class Chapter:
    number: int
    title: str
    intro: list[Paragraph] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)


@dataclass
class Indicator:
    """A row of the main-indicator table (二（四）主要指标)."""

    number: int
    name: str
    unit: str
    target: str
    nature: str  # "预期性" or "市下达", from the note under the table

    @property
    def row(self) -> str:
        """The row as it stands in the plan, without its number."""
        return f"{self.name}\t{self.unit}\t{self.target}"


@dataclass
class GlossaryTerm:
    number: int
    term: str
    definition: str


@dataclass
class Outline:
    title: str
    preamble: list[Paragraph]
    chapters: list[Chapter]
    indicators: list[Indicator]
    indicator_note: str
    glossary: list[GlossaryTerm]
    glossary_title: str = "《纲要》有关名词解释"

    def chapter(self, number: int) -> Chapter:
        return self.chapters[number - 1]

    def section(self, chapter: int, section: int) -> Section:
        return self.chapters[chapter - 1].sections[section - 1]


def read_plan(path: Path) -> str:
    """The plan's text; PlanUnreadable, in one line, when the file is missing or unreadable,
    empty, not UTF-8, or plainly not the plan (no table of contents, no chapter headings)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise PlanUnreadable(f"cannot read the plan file {one_line(path)}: {one_line(error.strerror or error)}"
                             " (set ASSISTANT_PLAN to the plan's text file)") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PlanUnreadable(f"the plan file {one_line(path)} is not UTF-8 text (byte {error.start})") from None
    if not text.strip():
        raise PlanUnreadable(f"the plan file {one_line(path)} is empty")
    lines = text.splitlines()
    if not any(_TOC_LINE.search(line) for line in lines) or not any(_CHAPTER.match(line) for line in lines):
        raise PlanUnreadable(f"the plan file {one_line(path)} does not look like the plan "
                             "(no table of contents or no chapter headings such as 一、)")
    return text


def parse_outline(text: str) -> Outline:
    """Parse the whole plan text (table of contents included) into an Outline."""
    lines = text.splitlines()
    body = lines[_body_start(lines):]
    blocks = _blocks(body)
    title = blocks.pop(0)

    preamble: list[Paragraph] = []
    chapters: list[Chapter] = []
    indicators: list[Indicator] = []
    indicator_note = ""
    glossary: list[GlossaryTerm] = []
    in_appendix = False
    current_lead: str | None = None

    for block in blocks:
        if in_appendix:
            if match := _GLOSSARY_ITEM.match(block):
                term, definition = _GLOSSARY_SPLIT.split(match.group(2), maxsplit=1)
                glossary.append(GlossaryTerm(int(match.group(1)), term.strip("* "), definition.strip()))
            continue
        if block.startswith("附件"):
            in_appendix = True
            continue
        if match := _CHAPTER.match(block):
            chapters.append(Chapter(cn_number(match.group(1)), match.group(2).strip()))
            current_lead = None
            continue
        if match := _SECTION.match(block):
            chapters[-1].sections.append(Section(cn_number(match.group(1)), match.group(2).strip()))
            current_lead = None
            continue
        if rows := _indicator_rows(block):
            indicators.extend(rows)
            continue
        if block.startswith("序号\t"):
            continue  # the table's header row
        if block.startswith("注：") and indicators and not indicator_note:
            indicator_note = block
        if not chapters:
            target = preamble
        elif chapters[-1].sections:
            target = chapters[-1].sections[-1].paragraphs
        else:
            target = chapters[-1].intro
        if block.startswith("——"):
            current_lead = lead_title(block)
        if target and _continues(target[-1], block):
            target[-1].text += block
        else:
            target.append(Paragraph(block, current_lead if block.startswith("——") else None))

    # The note under the table says which indicators are 预期性 (all but the city-assigned ones).
    for indicator in indicators:
        indicator.nature = "市下达" if "市下达" in indicator.target else "预期性"
    return Outline(title, preamble, chapters, indicators, indicator_note, glossary)


def lead_title(paragraph: str) -> str:
    """"——深度转型取得重大进展。新旧动能…" → "深度转型取得重大进展"."""
    head = paragraph.removeprefix("——").split("。", 1)[0]
    if len(head) > _LEAD_TITLE_MAX:
        head = head.split("，", 1)[0]
    return head


def _body_start(lines: list[str]) -> int:
    """Index of the first line after the table of contents (its lines end in page numbers)."""
    last_toc = max(i for i, line in enumerate(lines) if _TOC_LINE.search(line) and not _INDICATOR_ROW.match(line))
    return last_toc + 1


def _blocks(lines: list[str]) -> list[str]:
    """Non-empty lines, stripped of trailing whitespace; blank lines separate blocks."""
    return [line.rstrip() for line in lines if line.strip()]


def _indicator_rows(block: str) -> list[Indicator]:
    match = _INDICATOR_ROW.match(block)
    if not match:
        return []
    number, name, unit, target = match.groups()
    return [Indicator(int(number), name.strip(), unit.strip(), target.strip(), "预期性")]


def _continues(previous: Paragraph, block: str) -> bool:
    """Whether `block` is the rest of `previous`, cut off by a page break.

    Cut mid-sentence: the previous paragraph does not end a sentence. Cut between
    sentences: inside a "——" subsection every paragraph starts with "——", so a plain
    paragraph right after one belongs to it.
    """
    if block.startswith(("——", "注：", "表 ")):
        return False
    if not previous.text.endswith(_COMPLETE_END):
        return True
    return previous.lead is not None
