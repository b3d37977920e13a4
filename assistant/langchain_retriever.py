"""The plan's hybrid retrieval as a LangChain retriever, for LangChain pipelines.

Kept apart from retrieval.py so that answering a question does not import LangChain.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.index import PlanIndex
from assistant.retrieval import make_query, search
from assistant.types import Hit


class PlanRetriever(BaseRetriever):
    """LangChain retriever: Documents carry the chunk's CONTRACT keys and its scores."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    index: PlanIndex
    model: Any  # the embedding model of assistant.embeddings.load_model
    k: int = 8
    mode: str = "hybrid"

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [to_document(hit) for hit in search(self.index, make_query(self.model, query), self.k, self.mode)]


def to_document(hit: Hit) -> Document:
    chunk = hit.chunk
    return Document(
        page_content=chunk.text,
        id=chunk.id,
        metadata={
            "chapter": chunk.chapter, "section": chunk.section, "indicator": chunk.indicator,
            "glossary": chunk.glossary, "label": chunk.label, "dense": hit.dense, "lexical": hit.lexical,
            "score": hit.score,
        },
    )
