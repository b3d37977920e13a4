"""HTML for the chat page: questions, cited answers, refusals and notices.

The chat shows every message as sanitised HTML with Markdown turned off, so what a
user types and what the plan says are escaped here, always: a question containing
`<img src=x onerror=…>` or `![x](http://…)` is shown as those characters and loads
nothing. Citation markers [n] become superscripts; under each answer its citations
unfold to the verbatim quote and, one click further, the whole section with the
quote highlighted.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

from assistant.types import Answer, Citation
from assistant.chunks import GLOSSARY_CHAPTER, cn_numeral
from assistant.outline import Outline

_MARKER = re.compile(r"\[(\d{1,2})\]")

PENDING_TEXT = "正在查阅《纲要》…"
REFUSAL_HINT = {
    "zh": "可以换个说法，或者问问规划里的具体领域，比如养老、教育、医疗、交通。",
    "en": "Try rephrasing, or ask about a topic the plan covers, such as elderly care, schools, health or transport.",
}
SOURCES_TITLE = "出处"
FULL_TEXT_SUMMARY = "查看本节全文（引文已标出）"


def escape(text: str) -> str:
    """Text as inert HTML: every <, >, & and quote escaped."""
    return html.escape(text, quote=True)


def format_question(question: str, limit: int | None = None) -> str:
    """The user's question, shown literally; cut at `limit` characters when longer."""
    if limit is not None and len(question) > limit:
        question = question[:limit] + "…"
    return f'<div class="pa-question">{escape(question)}</div>'


def format_pending() -> str:
    return f'<div class="pa-pending">{escape(PENDING_TEXT)}</div>'


def format_streaming(text: str) -> str:
    """An answer still being written by the LLM backend: plain escaped text; the checked
    answer replaces it when it is complete."""
    return f'<div class="pa-pending">{escape(text)}</div>'


def format_notice(message: str) -> str:
    """A message from the page itself (question too long, something went wrong)."""
    return f'<div class="pa-notice">{escape(message)}</div>'


@dataclass
class Passage:
    """The plan text a citation sits in, for the "full text" view."""

    title: str
    text: str


class PlanPassages:
    """Look up the section (or chapter intro, indicator table, glossary term) of a citation."""

    def __init__(self, outline: Outline) -> None:
        self.outline = outline

    def passage(self, citation: Citation) -> Passage | None:
        o = self.outline
        try:
            if citation.chapter == GLOSSARY_CHAPTER and citation.glossary:
                term = o.glossary[citation.glossary - 1]
                return Passage(f"附件 {o.glossary_title} · {term.number} {term.term}", f"{term.term}：{term.definition}")
            if citation.chapter is None:
                return Passage("序言", "\n".join(p.text for p in o.preamble))
            chapter = o.chapter(citation.chapter)
            if citation.section is None:
                return Passage(f"第{cn_numeral(chapter.number)}章 {chapter.title}", "\n".join(p.text for p in chapter.intro))
            section = o.section(citation.chapter, citation.section)
            return Passage(f"第{cn_numeral(chapter.number)}章（{cn_numeral(section.number)}）{section.title}", section.text)
        except (IndexError, KeyError):
            return None


def format_answer(answer: Answer, passages: PlanPassages | None = None) -> str:
    """An answer with its citations, or a refusal that looks like one (no sources)."""
    if not answer.answerable:
        return (f'<div class="pa-refusal"><div class="pa-refusal-text">{escape(answer.answer)}</div>'
                f'<div class="pa-hint">{escape(REFUSAL_HINT.get(answer.language, REFUSAL_HINT["zh"]))}</div></div>')
    body = mark_citations(answer.answer, len(answer.citations))
    parts = [f'<div class="pa-answer"><div class="pa-answer-text">{body}</div>']
    if answer.citations:
        parts.append(f'<div class="pa-sources"><div class="pa-sources-title">{escape(SOURCES_TITLE)}</div>')
        parts += [format_citation(n, c, passages) for n, c in enumerate(answer.citations, 1)]
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


def mark_citations(text: str, count: int) -> str:
    """Escaped answer text with markers [1]…[count] as superscripts (other brackets stay text)."""
    out, last = [], 0
    for match in _MARKER.finditer(text):
        n = int(match.group(1))
        if not 1 <= n <= count:
            continue
        out.append(escape(text[last:match.start()]))
        out.append(f'<sup class="pa-ref">[{n}]</sup>')
        last = match.end()
    out.append(escape(text[last:]))
    return "".join(out)


def format_citation(number: int, citation: Citation, passages: PlanPassages | None = None) -> str:
    """One source: label in the summary; the verbatim quote and the full section inside."""
    parts = [
        '<details class="pa-source">',
        f'<summary><span class="pa-ref-num">[{number}]</span> {escape(citation.label)}</summary>',
        f'<blockquote class="pa-quote">{escape(_display_quote(citation.quote))}</blockquote>',
    ]
    if passages is not None:
        passage = passages.passage(citation)
        if citation.indicator and passage is not None:
            parts.append(_indicator_table(passages.outline, citation.indicator, passage.title))
        elif passage is not None:
            parts.append(
                f'<details class="pa-fulltext"><summary>{escape(FULL_TEXT_SUMMARY)}</summary>'
                f'<div class="pa-section-title">{escape(passage.title)}</div>'
                f'<div class="pa-section-text">{highlight(passage.text, citation.quote)}</div></details>'
            )
    parts.append("</details>")
    return "".join(parts)


def highlight(text: str, quote: str) -> str:
    """Escaped `text` with the passage `quote` wrapped in <mark>; whitespace and
    full-/half-width differences are ignored when finding it. Unfound: no mark."""
    span = find_quote(text, quote)
    if span is None:
        return escape(text)
    start, end = span
    return f"{escape(text[:start])}<mark>{escape(text[start:end])}</mark>{escape(text[end:])}"


def find_quote(text: str, quote: str) -> tuple[int, int] | None:
    """(start, end) of `quote` in `text`, comparing both without whitespace."""
    kept = [(i, _fold(c)) for i, c in enumerate(text) if not c.isspace()]
    haystack = "".join(c for _, c in kept)
    for candidate in (quote, quote.removeprefix("——")):
        needle = "".join(_fold(c) for c in candidate if not c.isspace())
        if not needle:
            continue
        at = haystack.find(needle)
        if at >= 0:
            return kept[at][0], kept[at + len(needle) - 1][0] + 1
    return None


def _fold(char: str) -> str:
    # One character in, one out, so positions map back to the original text.
    folded = unicodedata.normalize("NFKC", char)
    return folded if len(folded) == 1 else char


def _display_quote(quote: str) -> str:
    # An indicator quote is a table row with tabs: name, unit, target.
    return "　".join(part.strip() for part in quote.split("\t")) if "\t" in quote else quote


def _indicator_table(outline: Outline, indicator: int, title: str) -> str:
    """The main-indicator table with the cited row highlighted."""
    rows = []
    for row in outline.indicators:
        cls = ' class="pa-hit"' if row.number == indicator else ""
        rows.append(f"<tr{cls}><td>{row.number}</td><td>{escape(row.name)}</td><td>{escape(row.unit)}</td>"
                    f"<td>{escape(row.target)}</td><td>{escape(row.nature)}</td></tr>")
    note = f'<div class="pa-note">{escape(outline.indicator_note)}</div>' if outline.indicator_note else ""
    return (f'<details class="pa-fulltext"><summary>{escape("查看主要指标表全文（本项已标出）")}</summary>'
            f'<div class="pa-section-title">{escape(title)}</div>'
            '<table class="pa-indicators"><thead><tr><th>序号</th><th>指标</th><th>单位</th><th>2025年目标</th>'
            f'<th>属性</th></tr></thead><tbody>{"".join(rows)}</tbody></table>{note}</details>')
