"""The extractive composer: the plan's own sentences, quoted verbatim, with numbered citations.

It receives what the engine found (the reading, the hits, the ranked sentences, the
indicator rows a table question selects, the verdict) and writes the Answer in the shape
the question asks for: a refusal that says what the plan lacks; an indicator row; rows of
the indicator table; a glossary definition; the parts of a section or chapter; where the
plan discusses something; or the sentence(s) that answer, led by the ledger's record when
a number is asked for. English questions get an English lead, then the Chinese quote.
It never calls back into the engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.chunks import Chunk
from assistant.commitments import Commitment, Ledger
from assistant.passages import Passages, Scored, is_achievement
from assistant.reading import PARTS, PARTS_EN, first_quantity, says
from assistant.table import IndicatorTable, Row
from assistant.text import cn_numeral, lexical_tokens, squash
from assistant.types import Answer, Citation, Hit, Query, Question, Reading, Verdict, citation_for, source_for

MAX_SENTENCES = 3  # a list question may take one more
RUNNER_UP = 0.6  # a further sentence is quoted when it scores at least this share of the best
WHOLE_PARAGRAPH_CHARS = 400
CONCENTRATED = 3  # most of the best 3 hits in one section: a question for parts asks for that section's
CANDIDATE_SECTIONS = 5  # sections of the best hits whose title a list question may name
_MARKER = re.compile(r"\[(\d+)\]")


@dataclass
class Found:
    """What the engine found for one question (or one part of a multi-part question)."""

    reading: Reading
    query: Query
    hits: list[Hit]
    ranked: list[Scored]
    rows: list[Row]
    verdict: Verdict



def english_label(chunk: Chunk) -> str:
    if chunk.kind == "indicator":
        return f"main indicator {chunk.indicator} ({chunk.lead})"
    if chunk.kind == "glossary":
        return f"appendix glossary term {chunk.glossary} ({chunk.lead})"
    if chunk.chapter is None:
        return "the preamble"
    where = f"Chapter {chunk.chapter}" + (f", section ({chunk.section})" if chunk.section else "")
    return f"{where} “{chunk.section_title or chunk.chapter_title}”"


def refusal(question: Question, found: Found) -> Answer:
    return Answer(question=question.raw, answer=found.verdict.reason, answerable=False,
                  sources=[source_for(h) for h in found.hits], standalone_question=found.reading.text,
                  language=question.language, unmet=found.verdict.unmet, refused_by="verdict")


class ExtractiveComposer:
    """Compose answers from the index's sentences; no model beyond the embedder."""

    def __init__(self, passages: Passages, table: IndicatorTable, ledger: Ledger | None = None) -> None:
        self.passages = passages
        self.table = table
        self.ledger = ledger
        # Each appendix term as a question may name it: whole, or by its quoted core.
        self._glossary_keys = [(squash(key).lower(), c) for c in passages.index.chunks if c.kind == "glossary" and c.lead
                               for key in (re.sub(r"[“”\"]", "", c.lead), *re.findall(r"“([^”]{2,})”", c.lead))
                               if len(key) >= 2]

    def compose(self, question: Question, found: Found) -> Answer:
        if not found.verdict.answerable:
            return refusal(question, found)
        base = Answer(question=question.raw, answer="", answerable=True,
                      sources=[source_for(h) for h in found.hits], standalone_question=found.reading.text,
                      language=question.language)
        text, citations = self.write(found, question.english)
        base.answer, base.citations = text, citations
        return base

    def compose_parts(self, question: Question, parts: list[Found]) -> Answer:
        """One answer to a question that asks several things: each part answered (or said
        to be missing) and cited, the markers numbered across the parts."""
        answered = [p for p in parts if p.verdict.answerable]
        if not answered:
            return refusal(question, parts[0])
        texts, citations = [], []
        for n, part in enumerate(parts, 1):
            if part.verdict.answerable:
                text, cited = self.write(part, question.english)
                offset = len(citations)
                text = _MARKER.sub(lambda m: f"[{int(m.group(1)) + offset}]", text)
                citations += cited
            else:
                text = part.verdict.reason
            texts.append(f"({n}) {text}" if question.english else f"（{n}）{text}")
        seen, sources = set(), []
        for part in parts:
            for hit in part.hits:
                if hit.position not in seen:
                    seen.add(hit.position)
                    sources.append(source_for(hit))
        return Answer(question=question.raw, answer="\n".join(texts), answerable=True, citations=citations,
                      sources=sources, standalone_question=" / ".join(p.reading.text for p in parts),
                      language=question.language)

    def write(self, found: Found, english: bool) -> tuple[str, list[Citation]]:
        """The answer text, with [n] markers, and its citations, in the shape asked for."""
        reading, hits, ranked = found.reading, found.hits, found.ranked
        if reading.asks_kind and self.table.note and (row := self._row_asked(found)):
            return self._kind(row, english)
        if found.rows:
            return self._rows(found.rows, english)
        top = hits[0].chunk
        if reading.define and (term := self._glossary_term_in(reading.own_text)):
            return self._glossary(term, english)  # the appendix explains the very term asked about
        if top.kind == "glossary" and (reading.define or (reading.listing and self._glossary_term_in(reading.own_text))):
            return self._glossary(top, english)  # "四大品牌是哪四个？"; not "…哪些站点…" after "TOD是什么？"
        if reading.listing and (parts := self._parts(top, found, english)):
            return self._listing(parts, english)
        best = ranked[0]
        if row := self.table.row_of(best.hit.chunk):
            return self._rows([row], english)
        if reading.locate:
            # Where: the best passage retrieval found, quoted by its best sentence; the 十三五
            # review (一（一）) mentions most things in passing, so unless the question is about
            # the past, the plan's own treatment comes first.
            place = next((h for h in hits[:CANDIDATE_SECTIONS] if reading.period == "past"
                          or not is_achievement(h.chunk)), hits[0])
            return self._locate(next((s for s in ranked if s.hit.position == place.position), best), english)
        if reading.listing and top.kind == "paragraph" and len(top.text) <= WHOLE_PARAGRAPH_CHARS:
            return self._quote([Scored(hits[0], top.text, best.score, best.coverage)], english)
        picked = self._pick(ranked, MAX_SENTENCES + reading.listing)
        record = self._commitment_in(best, found) if reading.numeric else None
        figure = first_quantity(best.sentence, reading.measure) if reading.numeric else ""
        return self._quote(picked, english, record, figure)

    # -- choosing ---------------------------------------------------------

    def _glossary_term_in(self, question: str) -> Chunk | None:
        """The appendix term the question names, by the term or its quoted core
        ("虹桥智谷" for “虹桥智谷”国家大众创业万众创新示范基地); the longest wins."""
        q = squash(question).lower()
        # A Latin term as a word of the question ("REITs" is not in "are its").
        found = [(key, chunk) for key, chunk in self._glossary_keys
                 if (says(question, key) if key.isascii() else key in q)]
        return max(found, key=lambda f: len(f[0]))[1] if found else None

    def _row_asked(self, found: Found) -> Row | None:
        """The one indicator row a question is about: the row it selects, the row it names,
        or the indicator retrieval put first."""
        if len(found.rows) == 1:
            return found.rows[0]
        if found.rows:
            return None
        if row := self.table.named_in(found.reading.text):
            return row
        return self.table.row_of(found.ranked[0].hit.chunk) if found.ranked else None

    @staticmethod
    def _pick(ranked: list[Scored], most: int) -> list[Scored]:
        """The best sentence, and the runners-up that are nearly as good."""
        picked = [ranked[0]]
        for candidate in ranked[1:most + 2]:
            if len(picked) == most:
                break
            if candidate.score >= RUNNER_UP * ranked[0].score and candidate.sentence not in {p.sentence for p in picked}:
                picked.append(candidate)
        return picked

    def _parts(self, chunk: Chunk, found: Found, english: bool = False) -> list[tuple[Chunk, str, str]]:
        """The parts of what the question names: the section or chapter it points at
        ("第九章有哪几节？"); a section among the best hits whose title it names; or the
        best hit's section when retrieval keeps to it and the question asks for parts
        ("…从哪几个方面入手？", "有哪些举措？")."""
        for chapter, section in found.reading.outline_refs:
            if parts := self._parts_of(chapter, section):
                return parts
        # An English question for a section's parts shares no word with the Chinese titles:
        # the section whose title its sentence model puts closest ("building a safe
        # Changning" → 建设一流水平的平安长宁). Not for figures, names or several things at once.
        reading = found.reading
        if english and PARTS_EN.search(reading.own_text) and not (reading.numeric or reading.parts or reading.names) \
                and (closest := self.passages.closest_title(found.query)) and (parts := self._parts_of(*closest)):
            return parts
        names = self.passages.section_namer(found.reading, found.query)
        # The best hits' sections first, then every other: a question that names a section's
        # title ("2035年远景目标有哪几条？") asks for it wherever retrieval went.
        places = list(dict.fromkeys([(h.chunk.chapter, h.chunk.section) for h in found.hits[:CANDIDATE_SECTIONS]
                                     if h.chunk.kind == "paragraph" and h.chunk.chapter is not None]
                                    + [key for key in self.passages.title_words if key[1] is not None]))
        for chapter, section in places:
            if section is not None and names((chapter, section)):
                if parts := self._parts_of(chapter, section):
                    return parts
        if chunk.kind == "paragraph" and chunk.chapter is not None and (
                chunk.section is None or names((chunk.chapter, None))):
            # A chapter named, or its opening paragraph (which sums up its sections) found first.
            return self._parts_of(chunk.chapter, None)
        same = [h for h in found.hits[:CONCENTRATED] if (h.chunk.chapter, h.chunk.section) == (chunk.chapter, chunk.section)]
        # Retrieval keeping to the section, or a question naming none of the plan's own
        # terms ("…要遵循哪些原则？"); one that names a term ("“十百千万亿”目标包括哪些内容？")
        # asks for that term's contents, not for the section's parts.
        if chunk.section is not None and PARTS.search(found.reading.own_text) and (
                len(same) >= CONCENTRATED - 1 or not self.passages.names_term(found.reading.own_text)):
            return self._parts_of(chunk.chapter, chunk.section)
        return []

    def _parts_of(self, chapter: int, section: int | None) -> list[tuple[Chunk, str, str]]:
        """As (chunk to cite, item, verbatim quote): a section's "——" leads (when it has
        two or more), or a chapter's sections."""
        chunks = [c for c in self.passages.index.chunks if c.kind == "paragraph" and c.chapter == chapter]
        if section is not None:
            leads: dict[str, Chunk] = {}
            for c in chunks:
                if c.section == section and c.lead:
                    leads.setdefault(c.lead, c)
            return [(c, lead, "——" + lead) for lead, c in leads.items()] if len(leads) >= 2 else []
        sections: dict[int, Chunk] = {}
        for c in chunks:
            if c.section is not None:
                sections.setdefault(c.section, c)
        return [(c, c.section_title, f"（{cn_numeral(n)}）{c.section_title}") for n, c in sections.items()]

    def _commitment_in(self, best: Scored, found: Found) -> Commitment | None:
        """The ledger's record for the figure the best sentence states, if it has one: the
        record whose metric shares most of the question's words (targets, or 十三五
        results for questions about the past)."""
        if self.ledger is None:
            return None
        sentence = squash(best.sentence)
        kinds = {"achievement"} if found.reading.period == "past" else {"target", "qualitative"}
        candidates = [r for r in self.ledger.records if r.kind in kinds and squash(r.quote) in sentence]
        if not candidates:
            return None
        wanted = self.passages.wanted_words(found.reading, found.query)
        return max(candidates, key=lambda r: self.passages.coverage(wanted, set(lexical_tokens(r.metric))))

    # -- answer shapes ----------------------------------------------------

    def _rows(self, rows: list[Row], english: bool) -> tuple[str, list[Citation]]:
        """Rows of the main-indicator table, each cited by its number."""
        citations = [citation_for(r.chunk, r.chunk.text) for r in rows]
        if len(rows) == 1:
            r = rows[0]
            if english:
                return f"According to the Outline's main indicator {r.number}, {r.label}: {r.target}. [1]", citations
            return f"根据《纲要》主要指标第{r.number}项，{r.label}：{r.target}。[1]", citations
        whole = len(rows) == len(self.table.rows)  # no filter narrowed it: not "all 22 match"
        if english:
            items = [f"No. {r.number} {r.label}: {r.target}[{n}]" for n, r in enumerate(rows, 1)]
            lead = (f"The Outline's {len(rows)} main indicators: " if whole
                    else f"{len(rows)} of the Outline's {len(self.table.rows)} main indicators match: ")
            return lead + "; ".join(items) + ".", citations
        items = [f"第{r.number}项 {r.label}：{r.target}[{n}]" for n, r in enumerate(rows, 1)]
        lead = (f"《纲要》共有{len(rows)}项主要指标：" if whole
                else f"《纲要》{len(self.table.rows)}项主要指标中，符合的有{len(rows)}项：")
        return lead + "；".join(items) + "。", citations

    def _kind(self, row: Row, english: bool) -> tuple[str, list[Citation]]:
        """Whether a row is expected (预期性) or assigned by the city, as the table's note sorts them."""
        note = self.table.note
        citations = [citation_for(row.chunk, row.chunk.text), citation_for(note, note.text)]
        assigned = "assigned" in row.kinds
        if english:
            kind = ("assigned by the city (完成市下达指标), not one of the expected (预期性) indicators" if assigned
                    else "an expected (预期性, indicative) indicator")
            return (f"Main indicator {row.number}, {row.name}, is {kind}: its target is “{row.target}”[1], and the "
                    f"table's note says that all indicators other than those assigned by the city are expected ones[2].",
                    citations)
        kind = "是市下达需要完成的指标，不属于预期性指标" if assigned else "是预期性指标"
        return f"《纲要》主要指标第{row.number}项 {row.name}{kind}：其目标值为“{row.target}”[1]，{note.text}[2]", citations

    def _glossary(self, chunk: Chunk, english: bool) -> tuple[str, list[Citation]]:
        lead = (f"The Outline's glossary (term {chunk.glossary}) explains “{chunk.lead}”: "
                if english else f"《纲要》附件名词解释第{chunk.glossary}条：{chunk.lead}——")
        return f"{lead}{chunk.text}[1]", [citation_for(chunk, chunk.text)]

    def _listing(self, parts: list[tuple[Chunk, str, str]], english: bool) -> tuple[str, list[Citation]]:
        first = parts[0][0]
        whole_chapter = parts[0][2].startswith("（")
        where = (f"第{cn_numeral(first.chapter)}章 {first.chapter_title}" if whole_chapter
                 else f"第{cn_numeral(first.chapter)}章（{cn_numeral(first.section)}）{first.section_title}")
        items = "；".join(f"{n}. {item}[{n}]" for n, (_, item, _) in enumerate(parts, 1))
        text = (f"The Outline's {where} covers {len(parts)} parts: {items}." if english
                else f"《纲要》{where}包括{len(parts)}个方面：{items}。")
        return text, [citation_for(c, quote) for c, _, quote in parts]

    def _locate(self, best: Scored, english: bool) -> tuple[str, list[Citation]]:
        chunk = best.hit.chunk
        text = (f"The Outline covers this in {english_label(chunk)}: {best.sentence.strip()}[1]" if english
                else f"《纲要》在{chunk.label}中讲到这方面内容：{best.sentence.strip()}[1]")
        return text, [citation_for(chunk, best.sentence.strip())]

    def _as_prose(self, item: Scored) -> str:
        """A quoted sentence as the answer shows it: an indicator row read out as a row
        ("主要指标第21项 精品小区建设面积（万平方米）：每年新开工不少于100万平方米。"), not as
        its tab-separated cells; the citation keeps the verbatim text."""
        row = self.table.row_of(item.hit.chunk)
        return f"主要指标第{row.number}项 {row.label}：{row.target}。" if row else item.sentence.strip().removeprefix("——")

    def _quote(self, picked: list[Scored], english: bool, record: Commitment | None = None,
               figure: str = "") -> tuple[str, list[Citation]]:
        citations: list[Citation] = []
        chunk_marker: dict[str, int] = {}
        parts = []
        for item in picked:
            chunk = item.hit.chunk
            if chunk.id not in chunk_marker:
                citations.append(citation_for(chunk, item.sentence.strip()))
                chunk_marker[chunk.id] = len(citations)
            else:
                cited = citations[chunk_marker[chunk.id] - 1]
                cited.quote = _join_quotes(chunk.text, cited.quote, item.sentence.strip())
            parts.append(f"{self._as_prose(item)}[{chunk_marker[chunk.id]}]")
        first = picked[0].hit.chunk
        if english:
            # The figure leads in English too: the quote that follows is Chinese.
            lead = f"{record.metric}: {stated(record)}. " if record else f"The figure given is {figure}. " if figure else ""
            return f"According to the Outline ({english_label(first)}): {lead}" + " ".join(parts), citations
        if record:
            verb = "为" if record.kind == "achievement" else "目标为"
            return f"根据《纲要》{first.label}，{record.metric}{verb}{stated(record)}。原文：" + "".join(parts), citations
        return f"根据《纲要》{first.label}：" + "".join(parts), citations


def stated(record: Commitment) -> str:
    """A record's value with its bound where Chinese puts it: "3%以上", "不少于7000套"."""
    if not record.qualifier:
        return record.value
    if record.qualifier in ("以上", "左右", "以内", "以下"):
        return record.value + record.qualifier
    return record.qualifier + record.value


def _join_quotes(text: str, first: str, second: str) -> str:
    """Two sentences of one chunk as one verbatim quote: the span from the earlier to the later."""
    a, b = text.find(first), text.find(second)
    if a < 0 or b < 0:
        return first
    start, end = min(a, b), max(a + len(first), b + len(second))
    return text[start:end]


def quote_is_verbatim(quote: str, plan_text: str) -> bool:
    """Whether a citation's quote occurs in the plan (whitespace aside)."""
    return squash(quote.removeprefix("——")) in squash(plan_text)
