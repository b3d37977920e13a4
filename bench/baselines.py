"""Retrieval baselines over the same plan and the same embedding model.

- "tutorial": the usual LangChain recipe — RecursiveCharacterTextSplitter(500, 50)
  over the raw text, a FAISS vector store, top 5 — with no outline, no headings.
- "dense" and "bm25": our own chunks, one signal each (assistant.retrieval modes).
"""

from __future__ import annotations

import re

from langchain_community.vectorstores import FAISS
from langchain_core.embeddings import Embeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter
from sentence_transformers import SentenceTransformer

from assistant.embeddings import embed
from assistant.outline import CN_DIGITS, cn_number

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
