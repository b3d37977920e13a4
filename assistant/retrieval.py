"""Hybrid retrieval over the plan index (exposed to LangChain by langchain_retriever.py).

A chunk is ranked by three lists fused by reciprocal rank:
- dense: cosine similarity (inner product of unit vectors, higher is closer) of the
  question to the chunk, or to the chunk's best sentence if that is closer (a long
  paragraph dilutes the one sentence a question is about);
- BM25 over jieba tokens of the chunk;
- BM25 of the chunk's best sentence (tokens of the sentence and its heading).
A BM25 list counts only chunks with a positive score: a zero-score "hit" is noise
(../shared/MODELS.md). The choice was measured on the dev split (README, "Retrieval").
"""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import Any

import faiss
import numpy as np

from assistant.chunks import Chunk
from assistant.embeddings import embed
from assistant.index import PlanIndex
from assistant.second_model import SecondModel
from assistant.text import arabic_years, lexical_tokens, squash
from assistant.types import Hit, Query

RRF_K = 60  # the usual reciprocal-rank-fusion constant
MODES = ("hybrid", "dense", "bm25")
TITLE_MATCH = 0.75


def make_query(model: Any, text: str, second: SecondModel | None = None, question: str | None = None) -> Query:
    """`model`: what assistant.embeddings.load_model returns (a SentenceTransformer or the bundled
    USE); `text`: what to search with (the question and its expansion); `second`: the second
    sentence model, if one is configured, which reads the `question` itself (default `text`)."""
    return Query(text, embed(model, [text])[0], lexical_query_tokens(text, question),
                 second.query(question or text) if second else None)


def lexical_query_tokens(text: str, question: str | None = None) -> list[str]:
    """The words BM25 searches with. An English question's small numbers ("16 districts",
    "10,000 square meters") are no words of the Chinese plan: matched against its text they
    find chunks by chance (row 16). Its years stay (2025, 2035 are the plan's own)."""
    tokens = lexical_tokens(text)
    if (question or text).isascii():
        tokens = [t for t in tokens if not (t.isdigit() and len(t) <= 2)]
    return tokens


def search(index: PlanIndex, query: Query, k: int = 8, mode: str = "hybrid") -> list[Hit]:
    """The k best chunks for the query; mode is "hybrid", "dense" or "bm25"."""
    n = len(index.chunks)
    owner = index.sentence_owner
    dense = np.maximum(_cosines(index.chunk_vectors, query.vector),
                       _best_per_chunk(_cosines(index.sentence_vectors, query.vector), owner, n))
    lexical = np.asarray(index.chunk_bm25.get_scores(query.tokens)) if query.tokens else np.zeros(n)
    sentence_lexical = (_best_per_chunk(np.asarray(index.sentence_bm25.get_scores(query.tokens)), owner, n)
                        if query.tokens else np.zeros(n))
    if mode == "dense":
        score = dense
    elif mode == "bm25":
        score = lexical
    else:
        score = _rrf(dense) + _rrf_positive(lexical) + _rrf_positive(sentence_lexical) + _rrf_positive(
            _title_match(index, query))
    order = np.argsort(-score, kind="stable")[:k]
    return [Hit(index.chunks[i], int(i), float(dense[i]), float(lexical[i]), float(score[i])) for i in order]


def _title_match(index: PlanIndex, query: Query) -> np.ndarray:
    """How much of each chunk's section title the query quotes: the longest run of the
    title's characters found in the query, as a share of the title, counted from
    TITLE_MATCH up ("加大重点领域创新力度包括哪些方面" quotes 六（三） whole)."""
    text = squash(arabic_years(query.text))
    shares: dict[str, float] = {}
    for title in set(index.titles):
        if len(title) >= 4:
            match = SequenceMatcher(None, title, text, autojunk=False).find_longest_match()
            shares[title] = match.size / len(title)
    return np.array([s if (s := shares.get(t, 0.0)) >= TITLE_MATCH else 0.0 for t in index.titles])


def _cosines(vectors: faiss.Index, vector: np.ndarray) -> np.ndarray:
    """Cosine of every stored vector to `vector`, in storage order (exact FAISS search)."""
    similarities, positions = vectors.search(vector.reshape(1, -1).astype(np.float32), vectors.ntotal)
    scores = np.empty(vectors.ntotal, dtype=np.float32)
    scores[positions[0]] = similarities[0]
    return scores


def _best_per_chunk(values: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    best = np.full(n, -np.inf)
    np.maximum.at(best, owner, values)
    return best


def _rrf(scores: np.ndarray) -> np.ndarray:
    ranks = np.empty(len(scores))
    ranks[np.argsort(-scores, kind="stable")] = np.arange(1, len(scores) + 1)
    return 1.0 / (RRF_K + ranks)


def _rrf_positive(scores: np.ndarray) -> np.ndarray:
    return np.where(scores > 0, _rrf(scores), 0.0)
