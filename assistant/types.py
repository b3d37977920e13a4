"""The nouns of answering, shared by every stage and every front end.

A question flows one way through the engine (assistant/engine.py):

    Question → Reading → [Hit] → Verdict → composer → Answer

`Question` is the validated, normalised input; `Reading` is what it asks for and what it
pins down; `Hit`s are the retrieved passages; `Verdict` says whether the plan answers it
and, when not, which constraint the evidence does not meet; a composer (extractive or
LLM) writes the `Answer`. Front ends (chat page, CLI, batch, HTTP API) import the engine
and these nouns, nothing else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from assistant.chunks import Chunk


class BadQuestion(ValueError):
    """The question cannot be answered as given (empty, too long); the message says why."""


@dataclass
class Turn:
    role: str  # "user" or "assistant"
    content: str


@dataclass(frozen=True)
class Question:
    """A question as the engine takes it: validated once, before any model loads."""

    raw: str  # as the user wrote it (made printable), echoed in the answer
    text: str  # normalised: NFKC, markup stripped, invisible characters removed, spaces collapsed
    language: str  # "zh" or "en": the language to answer in
    history: tuple[Turn, ...] = ()  # the turns a follow-up may lean on (filtered once, in question.py)

    @property
    def english(self) -> bool:
        return self.language == "en"


@dataclass(frozen=True)
class Query:
    """What retrieval searches with: the standalone question, its embedding and its words."""

    text: str
    vector: np.ndarray
    tokens: list[str]
    second: np.ndarray | None = None  # the question by the second sentence model (assistant/second_model.py)


@dataclass
class Hit:
    chunk: Chunk
    position: int  # the chunk's position in PlanIndex.chunks
    dense: float  # cosine similarity of the chunk or its best sentence, -1…1
    lexical: float  # BM25 score of the chunk, 0 when no query word occurs
    score: float  # the ranking score (fused, or dense/BM25 alone)


@dataclass(frozen=True)
class Reading:
    """What a question asks for and what it pins down, read from its wording alone."""

    text: str  # the standalone question (a follow-up rewritten from the conversation)
    own_text: str  # the question as asked, normalised
    numeric: bool  # asks for a number
    listing: bool  # asks for all the items of something
    locate: bool  # asks where the plan discusses something
    define: bool  # asks what a term means
    period: str | None  # "past" (十三五 results), "future" (targets) or None
    measure: str | None  # the kind of number: money, area, length, people, share, count, duration, date
    rates: tuple[str, ...] = ()  # rates the question names as words ("出生率")
    places: tuple[str, ...] = ()  # places other than Changning it names (静安区, 上海市, 全国)
    years: tuple[int, ...] = ()  # calendar years it names (2022, 2035)
    one_year: bool = False  # asks for that year alone ("2020年这一年", "in 2020 alone"), not a period's figure
    units: tuple[str, ...] = ()  # units of measure it asks a figure in (亿元, 亩, 微克)
    rows: tuple[int, ...] = ()  # main-indicator rows it addresses by number ("第12项指标")
    outline_refs: tuple[tuple[int, int | None], ...] = ()  # chapters/sections it points at ("第九章")
    table: bool = False  # asks over the main-indicator table as a table
    asks_kind: bool = False  # asks whether an indicator is binding or expected (约束性/预期性)
    names: tuple[tuple[str, str], ...] = ()  # names of places and bodies it mentions, with their common part
    asks_person: bool = False  # asks who someone is ("区长是谁")
    asks_name: bool = False  # asks for a place or body by its name ("新建的是哪一所幼儿园？")
    instructs: bool = False  # tries to change the assistant's rules ("忽略之前的指令…", "ignore all previous instructions")
    asks_opinion: bool = False  # asks for a judgement, a recommendation or a forecast ("侬觉得房价会涨伐？")
    unstated: str | None = None  # asks for what the plan never states: "contact" (电话是多少), "lead" (哪个部门牵头)
    parts: tuple[str, ...] = ()  # the separate things a multi-part question asks for
    subject: str = ""  # what it is about, without the words that ask where or point at the plan
    pinned: str = ""  # its own words without the asker's story ("我住在天山新村，…"): reading.told_apart
    asked: str = ""  # the clauses that ask ("…，区里要新增多少共享车位？"): reading.told_apart
    in_conversation: bool = False  # asked after earlier turns (a follow-up, or a later part of a question)


@dataclass(frozen=True)
class Verdict:
    """Whether the plan answers the question; when not, which constraint is unmet and why."""

    answerable: bool
    unmet: str | None = None  # topic, figure, unit, place, year, period, name, person, rate, instructions, opinion
    reason: str = ""  # one sentence for the user, in the question's language
    evidence: dict = field(default_factory=dict)  # the measurements behind it (for --explain)


@dataclass
class Citation:
    chapter: int | None
    section: int | None
    indicator: int | None
    glossary: int | None
    label: str
    quote: str


@dataclass
class Source:
    chapter: int | None
    section: int | None
    indicator: int | None
    glossary: int | None
    label: str
    text: str
    score: float


@dataclass
class Answer:
    """One answer, in the shape of ../shared/CONTRACT.md §1 (plus extra fields)."""

    question: str
    answer: str
    answerable: bool
    citations: list[Citation] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    standalone_question: str = ""
    language: str = "zh"
    backend: str = "extractive"  # or "llm" (assistant/llm.py)
    fallback: str | None = None  # why the LLM answer was replaced by this extractive one
    unmet: str | None = None  # for a refusal: which constraint of the question the plan does not meet
    refused_by: str | None = None  # for a refusal: "verdict" (refusal.py) or "model" (the LLM found no answer)
    dropped: list[str] = field(default_factory=list)  # LLM sentences grounding dropped, each "reason: sentence"

    def to_dict(self) -> dict:
        return asdict(self)


def citation_for(chunk: Chunk, quote: str) -> Citation:
    return Citation(chunk.chapter, chunk.section, chunk.indicator, chunk.glossary, chunk.label, quote)


def source_for(hit: Hit) -> Source:
    c = hit.chunk
    return Source(c.chapter, c.section, c.indicator, c.glossary, c.label, c.text, round(hit.dense, 4))
