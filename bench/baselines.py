"""Peer retrieval pipelines over the same plan and the same embedding model.

- "tutorial LangChain": the usual LangChain recipe — RecursiveCharacterTextSplitter(500, 50)
  over the raw text, a FAISS vector store, top 5 — with no outline, no headings.
- "LlamaIndex-style hybrid": LlamaIndex's documented hybrid recipe, re-implemented here
  (llama-index is not installed): SentenceSplitter defaults (1024 tokens, 200 overlap,
  sentence-aware), a vector retriever and a BM25 retriever over jieba tokens (the usual
  choice for Chinese) with 5 each, fused by reciprocal rank (k = 60) to the top 5, as
  QueryFusionRetriever(mode="reciprocal_rerank", num_queries=1) does.
- "dense" and "bm25": our own chunks, one signal each (assistant.retrieval modes).

Peers know nothing of the outline, so a chunk counts as found if *any* line it spans
sits in the expected place (generous to them).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import faiss
import jieba
import numpy as np
from langchain_community.vectorstores import FAISS
from langchain_core.embeddings import Embeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter
from rank_bm25 import BM25Okapi

from assistant.embeddings import embed
from assistant.outline import CN_DIGITS, cn_number
from assistant.text import count_tokens

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

_CHAPTER = re.compile(r"^([一二三四五六七八九十]{1,3})、")
_SECTION = re.compile(r"^（([一二三四五六七八九十]{1,3})）")
_ROW = re.compile(r"^(\d{1,2})\t")
_TERM = re.compile(r"^(\d{1,2})\.\s")


class SentenceTransformerEmbeddings(Embeddings):
    """LangChain Embeddings around the project's SentenceTransformer (same model as ours)."""

    def __init__(self, model: SentenceTransformer) -> None:
        self.model = model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return embed(self.model, texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return embed(self.model, [text])[0].tolist()


def line_places(plan_text: str, body_start: int) -> list[dict]:
    """For every line of the plan, where it sits (chapter/section/indicator/glossary),
    found by reading headings in order, as a tutorial pipeline's chunks carry none."""
    places, chapter, section, in_appendix = [], None, None, False
    for number, line in enumerate(plan_text.splitlines()):
        if number >= body_start:
            if line.startswith("附件"):
                in_appendix, chapter, section = True, 12, None
            elif not in_appendix and (m := _CHAPTER.match(line)) and m.group(1)[0] in CN_DIGITS:
                chapter, section = cn_number(m.group(1)), None
            elif not in_appendix and (m := _SECTION.match(line)):
                section = cn_number(m.group(1))
        place = {"chapter": chapter, "section": section, "indicator": None, "glossary": None}
        if number >= body_start and chapter == 2 and section == 4 and (m := _ROW.match(line)):
            place["indicator"] = int(m.group(1))
        if in_appendix and (m := _TERM.match(line)):
            place["glossary"] = int(m.group(1))
        places.append(place)
    return places


class TutorialPipeline:
    def __init__(self, plan_text: str, body_start: int, model: SentenceTransformer) -> None:
        splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50, add_start_index=True)
        documents = splitter.create_documents([plan_text])
        self.places = line_places(plan_text, body_start)
        self.line_of = [plan_text.count("\n", 0, d.metadata["start_index"]) for d in documents]
        for document, first in zip(documents, self.line_of):
            last = first + document.page_content.count("\n")
            document.metadata["places"] = [p for p in self.places[first:last + 1] if p["chapter"]]
        self.store = FAISS.from_documents(documents, SentenceTransformerEmbeddings(model))
        self.chunks = len(documents)

    def places_of_top(self, question: str, k: int = 5) -> list[list[dict]]:
        """For each of the top k chunks, every place it spans (a chunk may cross sections)."""
        return [d.metadata["places"] for d in self.store.similarity_search(question, k=k)]


_SENTENCE = re.compile(r"[^。！？；\n]+[。！？；]?\n?|\n")


def _spans_places(places: list[dict], plan_text: str, start: int, end: int) -> list[dict]:
    """Every place a character span [start, end) of the plan touches."""
    first = plan_text.count("\n", 0, start)
    last = first + plan_text.count("\n", start, end)
    return [p for p in places[first:last + 1] if p["chapter"]]


class LlamaIndexStyleHybrid:
    """Vector + BM25 (jieba) retrievers fused by reciprocal rank over 1024-token chunks."""

    CHUNK_TOKENS, OVERLAP_TOKENS, EACH, RRF_K = 1024, 200, 5, 60

    def __init__(self, plan_text: str, body_start: int, model) -> None:
        self.model = model
        places = line_places(plan_text, body_start)
        spans = self._chunk_spans(plan_text)
        self.places = [_spans_places(places, plan_text, a, b) for a, b in spans]
        texts = [plan_text[a:b] for a, b in spans]
        vectors = embed(model, texts)
        self.vectors = faiss.IndexFlatIP(vectors.shape[1])
        self.vectors.add(vectors)
        self.bm25 = BM25Okapi([self._tokens(t) for t in texts])
        self.chunks = len(texts)

    @staticmethod
    def _tokens(text: str) -> list[str]:
        return [t for t in jieba.lcut(text.lower()) if t.strip() and not re.fullmatch(r"[\W_]+", t)]

    def _chunk_spans(self, text: str) -> list[tuple[int, int]]:
        """Whole sentences packed up to CHUNK_TOKENS, each chunk starting with the last
        sentences (up to OVERLAP_TOKENS) of the one before, as SentenceSplitter does."""
        sentences = [(m.start(), m.end(), count_tokens(m.group(0))) for m in _SENTENCE.finditer(text) if m.group(0)]
        spans, current = [], []
        for sentence in sentences:
            if current and sum(s[2] for s in current) + sentence[2] > self.CHUNK_TOKENS:
                spans.append((current[0][0], current[-1][1]))
                overlap = []
                for previous in reversed(current):
                    if sum(s[2] for s in overlap) + previous[2] > self.OVERLAP_TOKENS:
                        break
                    overlap.insert(0, previous)
                current = overlap
            current.append(sentence)
        if current:
            spans.append((current[0][0], current[-1][1]))
        return spans

    def places_of_top(self, question: str, k: int = 5) -> list[list[dict]]:
        _, dense = self.vectors.search(embed(self.model, [question]), self.EACH)
        lexical = np.argsort(-self.bm25.get_scores(self._tokens(question)), kind="stable")[: self.EACH]
        fused: dict[int, float] = {}
        for ranking in (dense[0], lexical):
            for rank, position in enumerate(int(p) for p in ranking if p >= 0):
                fused[position] = fused.get(position, 0.0) + 1.0 / (self.RRF_K + rank + 1)
        best = sorted(fused, key=lambda p: -fused[p])[:k]
        return [self.places[p] for p in best]
