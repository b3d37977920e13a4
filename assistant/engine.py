"""The answer API every front end calls: question (+ history) in, cited Answer out.

Loads the model and the index once (building the index when it is missing, stale
or corrupt), validates input, rewrites follow-ups, retrieves, decides whether the
plan answers the question, and composes the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from sentence_transformers import SentenceTransformer

from assistant.answer import ExtractiveAnswerer
from assistant.commitments import Ledger, build_ledger
from assistant.config import Settings
from assistant.embeddings import load_model
from assistant.expansion import expand
from assistant.followup import points_back, standalone_question
from assistant.index import PlanIndex, ensure_index
from assistant.llm import LLMAnswerer, chat_model
from assistant.outline import Outline, parse_outline, read_plan
from assistant.retrieval import make_query, search
from assistant.text import is_english, normalize
from assistant.types import Answer, BadQuestion, Turn

log = logging.getLogger(__name__)


FOLLOW_UP_EXTRA = 3  # the follow-up's own best chunks go right after the rewritten question's best 3
HISTORY_TURNS = 20  # the most recent turns a follow-up may lean on (10 questions and answers)


@dataclass
class PlanAssistant:
    settings: Settings
    model: SentenceTransformer
    index: PlanIndex
    answerer: ExtractiveAnswerer
    outline: Outline  # the plan, parsed once for every front end (section text, the ledger)
    ledger: Ledger
    retrieval_mode: str = "hybrid"
    llm: LLMAnswerer | None = None  # generates the answers when configured (assistant/llm.py)

    @classmethod
    def load(cls, settings: Settings | None = None, progress: bool = False) -> "PlanAssistant":
        settings = settings or Settings()
        chat = chat_model(settings)  # a configuration error fails before the slow loads
        model = load_model(settings.embedding_model, settings.threads)
        index = ensure_index(settings, model, progress=progress)
        outline = parse_outline(read_plan(settings.plan_path))
        # The commitments ledger answers "what is the target for X" from its structured record.
        ledger = build_ledger(outline)
        answerer = ExtractiveAnswerer(index, ledger)
        llm = LLMAnswerer(chat, answerer, settings.llm_timeout) if chat is not None else None
        return cls(settings, model, index, answerer, outline, ledger, llm=llm)

    def check(self, question: str) -> str:
        """The normalised question, or BadQuestion with a one-line reason (Chinese, then English)."""
        if not isinstance(question, str):
            raise BadQuestion("问题必须是文字 (the question must be text)")
        limit = self.settings.max_question_chars
        too_long = BadQuestion(f"问题太长，最多{limit}个字 (the question is too long: at most {limit} characters)")
        if len(question) > limit * 4:  # not worth normalising
            raise too_long
        text = normalize(question)
        if not text:
            raise BadQuestion("问题是空的 (the question is empty)")
        if len(text) > limit:
            raise too_long
        return text

    def usable_history(self, history: list[Turn] | None) -> list[Turn]:
        """The turns a follow-up may lean on: the last HISTORY_TURNS user and assistant turns
        with text, less user turns longer than a question may be (never answered, so no
        context). Anything longer made each request slow, and a long chain of follow-ups
        overflowed the recursion in standalone_question."""
        limit = self.settings.max_question_chars
        turns = [t for t in (history or []) if t.role in ("user", "assistant")
                 and isinstance(t.content, str) and t.content.strip()]
        return [t for t in turns[-HISTORY_TURNS:] if t.role != "user" or len(t.content.strip()) <= limit]

    def ask(self, question: str, history: list[Turn] | None = None) -> Answer:
        history = self.usable_history(history)
        if self.llm is not None:
            return self.llm.ask(question, history, self.check, self._retrieve)
        text, query, hits = self._retrieve(question, history)
        return self.answerer.answer(question, query, hits, english=is_english(text))

    def stream(self, question: str, history: list[Turn] | None = None) -> Iterator[str | Answer]:
        """Text chunks as the answer is written, then the final Answer: show that one in
        place of the chunks (its markers are checked and renumbered, or it is a fallback)."""
        history = self.usable_history(history)
        if self.llm is not None:
            yield from self.llm.stream(question, history, self.check, self._retrieve)
            return
        answer = self.ask(question, history)
        yield answer.answer
        yield answer

    def explain(self, question: str, history: list[Turn] | None = None) -> dict:
        """What the answer was based on: the rewritten query, the hits and the refusal evidence."""
        text, query, hits = self._retrieve(question, history)
        return {
            "query": query.text,
            "tokens": query.tokens,
            "hits": [{"label": h.chunk.label, "dense": round(h.dense, 3), "bm25": round(h.lexical, 2),
                      "score": round(h.score, 4)} for h in hits],
            "evidence": asdict(self.answerer.evidence_for(text, query, hits)),
        }

    def _retrieve(self, question: str, history: list[Turn] | None, standalone: str | None = None):
        text = self.check(question)
        turns = self.usable_history(history)
        standalone = standalone or standalone_question(text, turns)  # given: rewritten by the LLM
        if standalone != text:
            alone_query = make_query(self.model, expand(text))
            alone = search(self.index, alone_query, self.settings.top_k, self.retrieval_mode)
            if not points_back(text) and self.answerer.off_topic(alone_query, alone):
                standalone = text  # "明天天气怎么样？" after a plan question is not a follow-up
        query = make_query(self.model, expand(standalone))
        hits = search(self.index, query, self.settings.top_k, self.retrieval_mode)
        if standalone != text:
            # A follow-up may also change the subject: keep what the question alone finds.
            seen = {h.position for h in hits[:FOLLOW_UP_EXTRA]}
            extra = [h for h in alone[:FOLLOW_UP_EXTRA] if h.position not in seen][:2]
            rest = [h for h in hits[FOLLOW_UP_EXTRA:] if h.position not in {e.position for e in extra}]
            hits = hits[:FOLLOW_UP_EXTRA] + extra + rest
        return text, query, hits
