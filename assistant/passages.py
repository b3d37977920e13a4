"""The plan's sentences behind the hits: which one answers the question, and how well.

Retrieval ranks chunks; an answer quotes sentences. `Passages` scores every sentence of
the best chunks against the question (cosine similarity, the weighted share of the
question's words, the chunk's rank, the period asked about) and measures what the
verdict needs: how close the question is to the plan and to questions it does not
answer, whether it names the plan's own terms, which of its names the plan never writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from assistant.chunks import Chunk
from assistant.index import PlanIndex
from assistant.reading import names_a_place, states_quantity, topic_words
from assistant.text import arabic_years, lexical_tokens, squash
from assistant.types import Hit, Query, Reading

CANDIDATE_CHUNKS = 5
SECOND_SHARE = 0.3  # the second sentence model's share in a sentence's similarity (eval/README.md, "Two models")
DISTINCTIVE_TERM_CHUNKS = 5
QUANTITY_PREFERENCE = 0.25  # how much weaker a sentence with a number may be and still come first
TITLE_COVERAGE = 0.5  # share of a section title's words a question must use to ask for the whole section
ACHIEVEMENTS = (1, 1)  # 第一章（一）“十三五”主要成就: what was done, not what is planned
# How far a 十三五 result is held back for a question not about the past: one that names
# no period (a resident's "会不会装…") wants what the plan will do, one about targets more so.
RESULTS_HELD_BACK = {None: 0.15, "future": 0.3}


@dataclass
class Scored:
    """A sentence of a retrieved chunk, scored as the answer to the question."""

    hit: Hit
    sentence: str
    score: float
    coverage: float  # IDF-weighted share of the question's words found in the sentence or its heading

    @property
    def statement(self) -> str:
        """What states a figure: the sentence, or a glossary term or indicator row whole
        (a row's name, unit and target are read together)."""
        return self.sentence if self.hit.chunk.kind == "paragraph" else self.hit.chunk.text


def is_achievement(chunk: Chunk) -> bool:
    return (chunk.chapter, chunk.section) == ACHIEVEMENTS


class Passages:
    """The index's sentences and vocabulary, for scoring sentences against a question."""

    def __init__(self, index: PlanIndex, encode: Callable[[list[str]], np.ndarray] | None = None) -> None:
        self.index = index
        self._encode = encode  # the query model, for section titles (closest_title)
        self._titles: tuple[list[tuple[int, int]], np.ndarray] | None = None
        self._sentences_of: dict[int, list[int]] = {}
        for i, sentence in enumerate(index.sentences):
            self._sentences_of.setdefault(sentence.chunk, []).append(i)
        self._sentence_vectors = index.sentence_vectors.reconstruct_n(0, index.sentence_vectors.ntotal)
        self._sentence_words = [set(lexical_tokens(s.text)) for s in index.sentences]
        # Headings in the words a question uses: "2035年" for the title's 二〇三五年.
        self._heading_words = [set(lexical_tokens(arabic_years(c.heading))) for c in index.chunks]
        self.title_words = {
            (c.chapter, c.section): set(lexical_tokens(arabic_years(c.section_title))) for c in index.chunks if c.section
        } | {(c.chapter, None): set(lexical_tokens(arabic_years(c.chapter_title))) for c in index.chunks
             if c.kind == "paragraph"}
        self._idf = index.sentence_bm25.idf
        self.plan_text = squash("".join(c.text for c in index.chunks) + "".join(c.heading for c in index.chunks))
        # Words the plan never uses weigh like the rarest words it does use.
        self._unknown_idf = max(self._idf.values())
        # The plan's own distinctive terms: naming one shows the question is about the plan.
        self._terms = [t for t in index.vocabulary if len(t) >= 3
                       and sum(t in c.text for c in index.chunks) <= DISTINCTIVE_TERM_CHUNKS]

    def weight(self, token: str) -> float:
        return max(self._idf.get(token, self._unknown_idf), 0.0)

    @staticmethod
    def coverage(wanted: dict[str, float], found: set[str]) -> float:
        total = sum(wanted.values()) or 1.0
        return sum(w for t, w in wanted.items() if t in found) / total

    def wanted_words(self, reading: Reading, query: Query) -> dict[str, float]:
        """Question words by weight: the question's own words count fully, words carried
        over from earlier turns (follow-ups) count half; the asker's story ("我住在天山新村，…")
        is not what is asked and does not count."""
        own = set(lexical_tokens(reading.own_text))
        story = own - set(lexical_tokens(reading.pinned or reading.own_text))
        return {t: self.weight(t) * (1.0 if t in own else 0.5) for t in set(query.tokens) | own if t not in story}

    def closest_title(self, query: Query) -> tuple[int, int] | None:
        """The section whose title the query's embedding is closest to (titles embedded by
        the query model on first use), or None without a model."""
        if self._encode is None:
            return None
        if self._titles is None:
            titles = {(c.chapter, c.section): c.section_title for c in self.index.chunks
                      if c.kind == "paragraph" and c.section is not None}
            vectors = np.asarray(self._encode(list(titles.values())), dtype=np.float32)
            self._titles = (list(titles), vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
        keys, vectors = self._titles
        return keys[int(np.argmax(vectors @ query.vector))]

    def names_term(self, text: str) -> bool:
        """Whether the text names one of the plan's own distinctive terms."""
        return any(term in text for term in self._terms)

    def writes(self, words: str) -> bool:
        """Whether the plan writes these words anywhere (whitespace aside)."""
        return squash(words) in self.plan_text

    def closest_out_of_scope(self, query: Query) -> float:
        """Cosine similarity to the nearest example of a question the plan does not answer."""
        return float(self.index.out_of_scope.search(query.vector.reshape(1, -1), 1)[0][0][0])

    def rank(self, reading: Reading, query: Query, hits: list[Hit]) -> list[Scored]:
        """Score each sentence of the best chunks: cosine similarity to the query, plus the
        weighted share of the question's words in the sentence or its heading, plus a
        prior for its chunk's rank; 十三五 results are favoured for questions about the past
        and held back for the others (RESULTS_HELD_BACK). When a number is asked for, a sentence
        stating a quantity (of the kind asked for, when the question names one) comes first
        unless it is far weaker; when a place is asked for by name ("是哪一所？"), a sentence
        that names one."""
        wanted = self.wanted_words(reading, query)
        cosines = self.sentence_cosines(query)
        scored = []
        for rank, hit in enumerate(hits[:CANDIDATE_CHUNKS]):
            heading = self._heading_words[hit.position]
            for i in self._sentences_of.get(hit.position, []):
                text = self.index.sentences[i].text
                coverage = self.coverage(wanted, self._sentence_words[i] | heading)
                score = float(cosines[i]) + 0.5 * coverage + 0.15 / (rank + 1)
                if reading.period == "past":  # results are reported in 一（一）; elsewhere the plan sets targets
                    score += 0.2 if is_achievement(hit.chunk) else -0.2
                elif is_achievement(hit.chunk):
                    score -= RESULTS_HELD_BACK[reading.period]
                scored.append(Scored(hit, text, score, coverage))
        scored.sort(key=lambda s: -s.score)
        states = (lambda s: states_quantity(s.statement, reading.measure)) if reading.numeric else (
            (lambda s: names_a_place(s.sentence)) if reading.asks_name else None)
        if states and scored:
            floor = scored[0].score - QUANTITY_PREFERENCE
            def stated_first(s: Scored) -> float:
                return s.score + (1.0 if s.score >= floor and states(s) else 0.0)

            scored.sort(key=lambda s: -stated_first(s))
        return scored

    def sentence_cosines(self, query: Query) -> np.ndarray:
        """Each sentence's similarity to the question: USE's cosine, or, with a second model
        (assistant/second_model.py), SECOND_SHARE of it replaced by the second model's cosine
        put on USE's scale (the same mean and spread over the plan's sentences)."""
        own = self._sentence_vectors @ query.vector
        if query.second is None or self.index.second_vectors is None:
            return own
        second = self.index.second_vectors @ query.second
        scaled = (second - second.mean()) / max(float(second.std()), 1e-6) * own.std() + own.mean()
        return (1 - SECOND_SHARE) * own + SECOND_SHARE * scaled

    def section_namer(self, reading: Reading, query: Query) -> Callable[[tuple[int, int | None]], bool]:
        """Whether the question names a section (or chapter, section None): most of its
        title's words, and little else of its own (years read in Arabic digits on both sides).
        The question's words are read once, for all the sections it is matched against."""
        wanted = set(self.wanted_words(reading, query)) | set(lexical_tokens(arabic_years(reading.text)))
        own = {t: self.weight(t) for t in lexical_tokens(arabic_years(topic_words(reading.own_text)))}

        def names(key: tuple[int, int | None]) -> bool:
            title = {t: self.weight(t) for t in self.title_words.get(key, set())}
            return (bool(title) and self.coverage(title, wanted) >= TITLE_COVERAGE
                    and self.coverage(own, set(title)) >= TITLE_COVERAGE)

        return names
