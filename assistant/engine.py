"""The answer API every front end calls, and the one orchestrator of the answer pipeline:

    Question → Reading → [Hit] → Verdict → composer → Answer

`parse_question` validates and normalises (assistant/question.py); a follow-up is
rewritten from the conversation (followup.py); `read` says what the question asks and
pins down (reading.py); retrieval finds the hits (retrieval.py), the indicator table
its rows (table.py) and `Passages` ranks the sentences (passages.py); `judge` gives the
verdict (refusal.py, the only place that refuses); a composer writes the answer: the
extractive one (compose.py), or the LLM one (llm.py) when configured, which falls back
to the extractive answer. No stage calls back into the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from assistant.chunks import Chunk
from assistant.commitments import Ledger, build_ledger
from assistant.compose import ExtractiveComposer, Found
from assistant.config import Settings
from assistant.embeddings import embed, load_model
from assistant.expansion import expand
from assistant.followup import points_back, standalone_question
from assistant.index import PlanIndex, ensure_index
from assistant.outline import Outline, parse_outline, read_plan
from assistant.passages import Passages
from assistant.question import parse_question
from assistant.reading import read
from assistant.refusal import judge, off_topic, vague_but_on_topic
from assistant.retrieval import make_query, search
from assistant.second_model import SecondModel, load_second_model
from assistant.table import IndicatorTable
from assistant.types import Answer, Hit, Query, Question, Turn

if TYPE_CHECKING:
    from assistant.llm import LLMComposer

log = logging.getLogger(__name__)

FOLLOW_UP_EXTRA = 3  # the follow-up's own best chunks go right after the rewritten question's best 3


@dataclass
class PlanAssistant:
    settings: Settings
    model: Any  # the embedding model (assistant.embeddings.load_model)
    index: PlanIndex
    outline: Outline  # the plan, parsed once for every front end (section text, the ledger)
    ledger: Ledger
    passages: Passages
    table: IndicatorTable
    composer: ExtractiveComposer
    retrieval_mode: str = "hybrid"
    llm: "LLMComposer | None" = None  # writes the answers when configured (assistant/llm.py)
    second: SecondModel | None = None  # judges with USE which sentence answers (assistant/second_model.py)

    @classmethod
    def load(cls, settings: Settings | None = None, progress: bool = False) -> "PlanAssistant":
        settings = settings or Settings()
        llm = None
        if settings.llm != "none":  # LangChain is imported only for an LLM backend
            from assistant.llm import LLMComposer, chat_model

            # A configuration error fails before the slow loads.
            llm = LLMComposer(chat_model(settings), settings.llm_timeout, concurrency=settings.llm_concurrency)
        model = load_model(settings.embedding_model, settings.threads)
        second = load_second_model(settings.sentence_model)
        index = ensure_index(settings, model, progress=progress, second=second)
        outline = parse_outline(read_plan(settings.plan_path))
        # The commitments ledger answers "what is the target for X" from its structured record.
        ledger = build_ledger(outline)
        passages = Passages(index, encode=lambda texts: embed(model, texts))
        table = IndicatorTable(index.chunks)
        composer = ExtractiveComposer(passages, table, ledger)
        return cls(settings, model, index, outline, ledger, passages, table, composer, llm=llm, second=second)

    def question(self, raw: str, history: list[Turn] | None = None) -> Question:
        """The validated question (BadQuestion with a one-line reason otherwise)."""
        return parse_question(raw, history, self.settings.max_question_chars)

    def ask(self, question: str, history: list[Turn] | None = None) -> Answer:
        *_, answer = self.stream(question, history, streaming=False)
        return answer

    def stream(self, question: str, history: list[Turn] | None = None,
               streaming: bool = True) -> Iterator[str | Answer]:
        """Text chunks as the answer is written, then the final Answer: show that one in
        place of the chunks (its markers are checked and renumbered, or it is a fallback)."""
        q = self.question(question, history)
        standalone, failure = self.llm.condense(q) if self.llm is not None else (None, None)
        found = self.find(q, standalone)
        parts = self._parts(q, found)
        answer = self.composer.compose_parts(q, parts) if parts else self.composer.compose(q, found)
        if self.llm is None or not answer.answerable or parts:
            yield answer.answer
            yield answer
            return
        yield from self.llm.stream(q, found, answer, failure, streaming=streaming)

    def find(self, question: Question, standalone: str | None = None) -> Found:
        """Reading, hits, indicator rows, ranked sentences and the verdict for a question
        (`standalone`: the question as the LLM rewrote it from the conversation)."""
        text = standalone or standalone_question(question.text, list(question.history))
        alone: list[Hit] = []  # a follow-up's own hits: it may also change the subject
        leaned = text != question.text
        if leaned:
            alone_query, alone = self._search(question.text)
            if standalone is None and not points_back(question.text, question.history) and off_topic(alone_query, alone, self.passages):
                text, alone = question.text, []  # "明天天气怎么样？" after a plan question is not a follow-up
        found = self._found(question, text, alone)
        if not leaned and standalone is None and question.history and vague_but_on_topic(found.verdict):
            # "长宁打算在哪些站点周边搞？" after a question about TOD: too vague to stand alone,
            # it leans on the conversation after all.
            leaning = self._found(question, standalone_question(question.text, list(question.history), lean=True),
                                  found.hits)
            if leaning.verdict.answerable:
                return leaning
        return found

    def _found(self, question: Question, text: str, alone: list[Hit]) -> Found:
        reading = read(question.text, text, in_conversation=bool(question.history),
                       earlier=tuple(turn.content for turn in question.history))
        # "碳达峰在规划里哪里提到了？" is searched as "碳达峰": the rest points at the plan itself.
        query, hits = self._search(reading.subject if reading.locate else text)
        if alone:
            hits = _with_own_hits(hits, alone)
        rows = self.table.select(reading)
        # Rows and places the question names are retrieved by name, ahead of the search's hits.
        named = [r.chunk for r in rows] or [c for ref in reading.outline_refs if (c := self._opening(ref))]
        hits = self._named_first(named, hits, query)
        if rows and len(rows) == len(self.table.rows):
            # The whole table ("主要指标里跟生态环境有关的有哪些？" where no row's name has the
            # words): its rows are all answered, the closest to the question first in the sources.
            hits[:len(rows)] = sorted(hits[:len(rows)], key=lambda h: -h.dense)
        ranked = self.passages.rank(reading, query, hits)
        verdict = judge(reading, query, hits, ranked, self.passages, question.english, rows)
        return Found(reading, query, hits, ranked, rows, verdict)

    def _search(self, text: str) -> tuple[Query, list[Hit]]:
        query = make_query(self.model, expand(text), self.second, question=text)
        return query, search(self.index, query, self.settings.top_k, self.retrieval_mode)

    def _opening(self, place: tuple[int, int | None]) -> Chunk | None:
        """The first chunk of a chapter (its intro, else its first section) or of a section."""
        chapter, section = place
        return next((c for c in self.index.chunks if c.kind == "paragraph" and c.chapter == chapter
                     and (section is None or c.section == section)), None)

    def _named_first(self, chunks: list[Chunk], hits: list[Hit], query: Query) -> list[Hit]:
        """The named chunks as hits (the search's own hit where it found one), then the rest."""
        found = {h.position: h for h in hits}
        first = []
        for chunk in chunks:
            p = self.index.position(chunk)
            first.append(found.get(p) or Hit(chunk, p, float(self.index.chunk_vectors.reconstruct(p) @ query.vector), 0.0, 0.0))
        seen = {h.position for h in first}
        return first + [h for h in hits if h.position not in seen]

    def explain(self, question: str, history: list[Turn] | None = None) -> dict:
        """What the answer was based on: the reading, the rewritten query, the hits and the verdict."""
        found = self.find(self.question(question, history))
        return {
            "query": found.query.text,
            "tokens": found.query.tokens,
            "reading": asdict(found.reading),
            "hits": [{"label": h.chunk.label, "dense": round(h.dense, 3), "bm25": round(h.lexical, 2),
                      "score": round(h.score, 4)} for h in found.hits],
            "rows": [r.number for r in found.rows],
            "verdict": asdict(found.verdict),
        }

    def _parts(self, question: Question, found: Found) -> list[Found]:
        """Each part of a question that asks several things, found on its own; a part
        without a subject of its own ("2025年的目标又是多少？") takes the one before's."""
        reading = found.reading
        if len(reading.parts) < 2 or found.rows or question.history:
            return []
        parts, previous = [], []
        for text in reading.parts:
            part = Question(raw=text, text=text, language=question.language, history=tuple(previous))
            parts.append(self.find(part))
            previous = [Turn("user", text)]
        return parts


def _with_own_hits(hits: list[Hit], alone: list[Hit]) -> list[Hit]:
    """The rewritten question's best hits, then up to two of the follow-up's own best."""
    seen = {h.position for h in hits[:FOLLOW_UP_EXTRA]}
    extra = [h for h in alone[:FOLLOW_UP_EXTRA] if h.position not in seen][:2]
    rest = [h for h in hits[FOLLOW_UP_EXTRA:] if h.position not in {e.position for e in extra}]
    return hits[:FOLLOW_UP_EXTRA] + extra + rest
