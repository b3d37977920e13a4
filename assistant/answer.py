"""Extractive answers: the plan's own sentences, quoted verbatim, with numbered citations.

Given the retrieved hits, pick the sentence(s) that best answer the question and
cite the chunk each came from. An indicator is answered by its table row, a
glossary term by its definition, a "which parts…" question by the section's
"——" subsection leads. When retrieval finds nothing that supports an answer, the
answer says so plainly and cites nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.chunks import Chunk, cn_numeral
from assistant.commitments import Commitment, Ledger
from assistant.index import PlanIndex
from assistant.question import Intent, read_intent, states_quantity
from assistant.refusal import SCOPE_MARGIN, Evidence, refuse
from assistant.text import lexical_tokens, normalize, printable, squash
from assistant.types import Answer, Citation, Hit, Query, citation_for, source_for

REFUSAL_ZH = "《纲要》中没有提到这方面的内容，无法根据《纲要》回答这个问题。"
REFUSAL_EN = "The Outline does not mention this, so it cannot be answered from the plan."

MAX_SENTENCES = 2  # a list question may take one more
RUNNER_UP = 0.85  # a further sentence is quoted when it scores at least this share of the best
CANDIDATE_CHUNKS = 5
TITLE_COVERAGE = 0.6  # share of a section title's words a question must use to ask for the whole section
WHOLE_PARAGRAPH_CHARS = 400
DISTINCTIVE_TERM_CHUNKS = 5
QUANTITY_PREFERENCE = 0.25  # how much weaker a sentence with a number may be and still come first
ACHIEVEMENTS = (1, 1)  # 第一章（一）“十三五”主要成就: what was done, not what is planned


def english_label(chunk: Chunk) -> str:
    if chunk.kind == "indicator":
        return f"main indicator {chunk.indicator} ({chunk.lead})"
    if chunk.kind == "glossary":
        return f"appendix glossary term {chunk.glossary} ({chunk.lead})"
    if chunk.chapter is None:
        return "the preamble"
    where = f"Chapter {chunk.chapter}" + (f", section ({chunk.section})" if chunk.section else "")
    return f"{where} “{chunk.section_title or chunk.chapter_title}”"


@dataclass
class Scored:
    hit: Hit
    sentence: str
    score: float
    coverage: float  # IDF-weighted share of the question's words found in the sentence or its heading


class ExtractiveAnswerer:
    """Compose answers from the index's sentences; no model beyond the embedder."""

    def __init__(self, index: PlanIndex, ledger: Ledger | None = None) -> None:
        self.index = index
        self.ledger = ledger
        self._sentences_of: dict[int, list[int]] = {}
        for i, sentence in enumerate(index.sentences):
            self._sentences_of.setdefault(sentence.chunk, []).append(i)
        self._sentence_vectors = index.sentence_vectors.reconstruct_n(0, index.sentence_vectors.ntotal)
        self._sentence_words = [set(lexical_tokens(s.text)) for s in index.sentences]
        self._heading_words = [set(lexical_tokens(c.heading)) for c in index.chunks]
        self._title_words = {
            (c.chapter, c.section): set(lexical_tokens(c.section_title)) for c in index.chunks if c.section
        } | {(c.chapter, None): set(lexical_tokens(c.chapter_title)) for c in index.chunks if c.kind == "paragraph"}
        self._idf = index.sentence_bm25.idf
        self._plan_text = squash("".join(c.text for c in index.chunks))
        # Words the plan never uses weigh like the rarest words it does use.
        self._unknown_idf = max(self._idf.values())
        # The plan's own distinctive terms: naming one shows the question is about the plan.
        self._terms = [t for t in index.vocabulary if len(t) >= 3
                       and sum(t in c.text for c in index.chunks) <= DISTINCTIVE_TERM_CHUNKS]

    def weight(self, token: str) -> float:
        return max(self._idf.get(token, self._unknown_idf), 0.0)

    def coverage(self, wanted: dict[str, float], found: set[str]) -> float:
        total = sum(wanted.values()) or 1.0
        return sum(w for t, w in wanted.items() if t in found) / total

    def wanted_words(self, question: str, query: Query) -> dict[str, float]:
        """Question words by weight: the question's own words count fully, words carried
        over from earlier turns (follow-ups) count half."""
        own = set(lexical_tokens(question))
        return {t: self.weight(t) * (1.0 if t in own else 0.5) for t in set(query.tokens) | own}

    def answer(self, question: str, query: Query, hits: list[Hit], english: bool) -> Answer:
        sources = [source_for(h) for h in hits]
        base = Answer(question=printable(question), answer="", answerable=True, sources=sources,
                      standalone_question=query.text, language="en" if english else "zh")
        q, intent, wanted, ranked = self._read(question, query, hits)
        if not ranked or refuse(self.evidence(q, query, wanted, hits, ranked, intent)):
            return self._refuse(base, english)
        top = hits[0].chunk
        if (intent.define or intent.listing) and top.kind == "glossary":
            return self._glossary(base, top, english)
        if intent.listing and (parts := self._parts(top, q, wanted)):
            return self._listing(base, top, parts, english)
        best = ranked[0]
        if best.hit.chunk.kind == "indicator":
            return self._indicator(base, best.hit.chunk, english)
        if intent.locate:
            return self._locate(base, best, english)
        if intent.listing and top.kind == "paragraph" and len(top.text) <= WHOLE_PARAGRAPH_CHARS:
            return self._quote(base, [Scored(hits[0], top.text, best.score, best.coverage)], english)
        picked = self._pick(ranked, MAX_SENTENCES + intent.listing)
        record = self._commitment_in(best, wanted, intent.period) if intent.numeric else None
        return self._quote(base, picked, english, record)

    def _read(self, question: str, query: Query, hits: list[Hit]):
        """The normalised question, what it asks for, its weighted words, and the ranked sentences."""
        q = normalize(question)
        intent = read_intent(q)
        wanted = self.wanted_words(q, query)
        return q, intent, wanted, self._rank_sentences(query, wanted, hits, intent)

    def _closest_out_of_scope(self, query: Query) -> float:
        """Cosine similarity to the nearest example of a question the plan does not answer."""
        return float(self.index.out_of_scope.search(query.vector.reshape(1, -1), 1)[0][0][0])

    def off_topic(self, query: Query, hits: list[Hit]) -> bool:
        """Whether the question, on its own, is about something the plan does not cover."""
        return bool(hits) and self._closest_out_of_scope(query) - hits[0].dense > SCOPE_MARGIN

    def evidence_for(self, question: str, query: Query, hits: list[Hit]) -> Evidence:
        q, intent, wanted, ranked = self._read(question, query, hits)
        return self.evidence(q, query, wanted, hits, ranked, intent)

    def evidence(self, question: str, query: Query, wanted: dict[str, float], hits: list[Hit], ranked: list[Scored],
                 intent: Intent) -> Evidence:
        best = ranked[0]
        return Evidence(
            dense=hits[0].dense,
            coverage=best.coverage,
            out_of_scope=self._closest_out_of_scope(query),
            term_match=any(term in question for term in self._terms),
            numeric=intent.numeric,
            has_quantity=self._states_target(best, intent.measure),
            answer_score=best.score,
            unknown_metric=intent.numeric and any(rate not in self._plan_text for rate in intent.rates),
            period_conflict=intent.period == "future" and _is_achievement(best.hit.chunk),
        )

    @staticmethod
    def _states_target(best: Scored, measure: str | None) -> bool:
        """Whether the best sentence gives the figure asked for. An indicator row always
        states its target, even a qualitative one (保持发达国家先进水平), unless the
        question wants a unit the row does not have."""
        if best.hit.chunk.kind == "indicator":
            return measure is None or states_quantity(best.hit.chunk.text, measure)
        return states_quantity(best.sentence, measure)

    # -- sentence ranking -------------------------------------------------

    def _rank_sentences(self, query: Query, wanted: dict[str, float], hits: list[Hit], intent: Intent) -> list[Scored]:
        """Score each sentence of the best chunks: cosine similarity to the query, plus the
        weighted share of the question's words in the sentence or its heading, plus a
        prior for its chunk's rank; 十三五 results are favoured for questions about the past
        and held back for questions about targets. When a number is asked for, a sentence
        stating a quantity comes first unless it is far weaker."""
        scored = []
        for rank, hit in enumerate(hits[:CANDIDATE_CHUNKS]):
            heading = self._heading_words[hit.position]
            for i in self._sentences_of.get(hit.position, []):
                text = self.index.sentences[i].text
                coverage = self.coverage(wanted, self._sentence_words[i] | heading)
                score = float(self._sentence_vectors[i] @ query.vector) + 0.5 * coverage + 0.15 / (rank + 1)
                if intent.period == "past":  # results are reported in 一（一）; elsewhere the plan sets targets
                    score += 0.2 if _is_achievement(hit.chunk) else -0.2
                elif intent.period == "future" and _is_achievement(hit.chunk):
                    score -= 0.3
                scored.append(Scored(hit, text, score, coverage))
        scored.sort(key=lambda s: -s.score)
        if intent.numeric and scored:
            floor = scored[0].score - QUANTITY_PREFERENCE
            scored.sort(key=lambda s: -(s.score + (1.0 if s.score >= floor and states_quantity(s.sentence) else 0.0)))
        return scored

    def _pick(self, ranked: list[Scored], most: int) -> list[Scored]:
        """The best sentence, and the runners-up that are nearly as good (in plan order
        when they come from one chunk)."""
        picked = [ranked[0]]
        for candidate in ranked[1:most + 2]:
            if len(picked) == most:
                break
            if candidate.score >= RUNNER_UP * ranked[0].score and candidate.sentence not in {p.sentence for p in picked}:
                picked.append(candidate)
        return picked

    def _names(self, title_key: tuple[int, int | None], question: str, wanted: dict[str, float]) -> bool:
        """Whether the question names this section (or chapter): most of its title's words,
        and little else of its own."""
        title = {t: self.weight(t) for t in self._title_words.get(title_key, set())}
        own = {t: w for t, w in wanted.items() if t in set(lexical_tokens(question))}
        return (bool(title) and self.coverage(title, set(wanted)) >= TITLE_COVERAGE
                and self.coverage(own, set(title)) >= TITLE_COVERAGE)

    def _parts(self, chunk: Chunk, question: str, wanted: dict[str, float]) -> list[tuple[Chunk, str, str]]:
        """The parts of what the question names, as (chunk to cite, item, verbatim quote):
        a section's "——" leads, or a chapter's sections."""
        if chunk.kind != "paragraph" or chunk.chapter is None:
            return []
        if chunk.section is not None and self._names((chunk.chapter, chunk.section), question, wanted):
            leads: dict[str, Chunk] = {}
            for c in self.index.chunks:
                if c.kind == "paragraph" and (c.chapter, c.section) == (chunk.chapter, chunk.section) and c.lead:
                    leads.setdefault(c.lead, c)
            if len(leads) >= 2:
                return [(c, lead, "——" + lead) for lead, c in leads.items()]
        if self._names((chunk.chapter, None), question, wanted):
            sections: dict[int, Chunk] = {}
            for c in self.index.chunks:
                if c.kind == "paragraph" and c.chapter == chunk.chapter and c.section is not None:
                    sections.setdefault(c.section, c)
            return [(c, c.section_title, f"（{cn_numeral(n)}）{c.section_title}") for n, c in sections.items()]
        return []

    # -- answer shapes ----------------------------------------------------

    def _refuse(self, base: Answer, english: bool) -> Answer:
        base.answer, base.answerable, base.citations = (REFUSAL_EN if english else REFUSAL_ZH), False, []
        return base

    def _indicator(self, base: Answer, chunk: Chunk, english: bool) -> Answer:
        name, unit, target = chunk.text.split("\t")
        unit_text = "" if unit.strip() in {"-", ""} else f"（{unit}）"
        if english:
            base.answer = f"According to the Outline's main indicator {chunk.indicator}, {name}{unit_text}: {target}. [1]"
        else:
            base.answer = f"根据《纲要》主要指标第{chunk.indicator}项，{name}{unit_text}：{target}。[1]"
        base.citations = [citation_for(chunk, chunk.text)]
        return base

    def _glossary(self, base: Answer, chunk: Chunk, english: bool) -> Answer:
        lead = (f"The Outline's glossary (term {chunk.glossary}) explains “{chunk.lead}”: "
                if english else f"《纲要》附件名词解释第{chunk.glossary}条：{chunk.lead}——")
        base.answer = f"{lead}{chunk.text}[1]"
        base.citations = [citation_for(chunk, chunk.text)]
        return base

    def _listing(self, base: Answer, top: Chunk, parts: list[tuple[Chunk, str, str]], english: bool) -> Answer:
        first = parts[0][0]
        whole_chapter = first.section != top.section or parts[0][2].startswith("（")
        where = (f"第{cn_numeral(top.chapter)}章 {top.chapter_title}" if whole_chapter
                 else f"第{cn_numeral(top.chapter)}章（{cn_numeral(top.section)}）{top.section_title}")
        items = "；".join(f"{n}. {item}[{n}]" for n, (_, item, _) in enumerate(parts, 1))
        base.answer = (f"The Outline's {where} covers {len(parts)} parts: {items}." if english
                       else f"《纲要》{where}包括{len(parts)}个方面：{items}。")
        base.citations = [citation_for(c, quote) for c, _, quote in parts]
        return base

    def _locate(self, base: Answer, best: Scored, english: bool) -> Answer:
        chunk = best.hit.chunk
        base.answer = (f"The Outline covers this in {english_label(chunk)}: {best.sentence.strip()}[1]" if english
                       else f"《纲要》在{chunk.label}中讲到这方面内容：{best.sentence.strip()}[1]")
        base.citations = [citation_for(chunk, best.sentence.strip())]
        return base

    def _commitment_in(self, best: Scored, wanted: dict[str, float], period: str | None) -> Commitment | None:
        """The ledger's record for the figure the best sentence states, if it has one: the
        record whose metric shares most of the question's words (targets, or 十三五
        results for questions about the past)."""
        if self.ledger is None:
            return None
        sentence = squash(best.sentence)
        kinds = {"achievement"} if period == "past" else {"target", "qualitative"}
        candidates = [r for r in self.ledger.records if r.kind in kinds and squash(r.quote) in sentence]
        if not candidates:
            return None
        return max(candidates, key=lambda r: self.coverage(wanted, set(lexical_tokens(r.metric))))

    def _quote(self, base: Answer, picked: list[Scored], english: bool, record: Commitment | None = None) -> Answer:
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
            parts.append(f"{item.sentence.strip().removeprefix('——')}[{chunk_marker[chunk.id]}]")
        first = picked[0].hit.chunk
        if english:
            lead = f"{record.metric}: {stated(record)}. " if record else ""
            base.answer = f"According to the Outline ({english_label(first)}): {lead}" + " ".join(parts)
        elif record:
            verb = "为" if record.kind == "achievement" else "目标为"
            base.answer = f"根据《纲要》{first.label}，{record.metric}{verb}{stated(record)}。原文：" + "".join(parts)
        else:
            base.answer = f"根据《纲要》{first.label}：" + "".join(parts)
        base.citations = citations
        return base


def stated(record: Commitment) -> str:
    """A record's value with its bound where Chinese puts it: "3%以上", "不少于7000套"."""
    if not record.qualifier:
        return record.value
    if record.qualifier in ("以上", "左右", "以内", "以下"):
        return record.value + record.qualifier
    return record.qualifier + record.value


def _is_achievement(chunk: Chunk) -> bool:
    return (chunk.chapter, chunk.section) == ACHIEVEMENTS


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
