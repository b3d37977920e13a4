"""Retrieval: a LangChain retriever over the hybrid index."""

from langchain_core.retrievers import BaseRetriever

from assistant.langchain_retriever import PlanRetriever
from assistant.retrieval import lexical_query_tokens, make_query, search


def test_retriever_is_a_langchain_retriever_returning_cited_documents(assistant):
    retriever = PlanRetriever(index=assistant.index, model=assistant.model, k=5)
    assert isinstance(retriever, BaseRetriever)
    documents = retriever.invoke("高新技术企业数2025年达到多少")
    assert len(documents) == 5
    top = documents[0].metadata
    assert (top["chapter"], top["section"], top["indicator"]) == (2, 4, 6)
    assert -1.0 <= top["dense"] <= 1.0


def test_lexical_search_finds_exact_plan_wording(assistant):
    hits = search(assistant.index, make_query(assistant.model, "上市供应租赁住房不少于多少套"), 5, mode="bm25")
    assert (hits[0].chunk.chapter, hits[0].chunk.section) == (9, 7)


def test_dense_search_crosses_languages(assistant):
    hits = search(assistant.index, make_query(assistant.model, "elderly care beds"), 5, mode="dense")
    assert any("养老" in h.chunk.text or "养老" in h.chunk.label for h in hits)


def test_hybrid_finds_a_section_by_its_title(assistant):
    hits = search(assistant.index, make_query(assistant.model, "加大重点领域创新力度包括哪些方面"), 3)
    assert (hits[0].chunk.chapter, hits[0].chunk.section) == (6, 3)


def test_an_english_question_s_small_numbers_do_not_search_the_chinese_text():
    # "16 districts" is no word of the plan: matched against its text it finds row 16 by chance.
    kept = lexical_query_tokens("How does Changning rank among 16 districts by 2035?")
    assert "16" not in kept and "2035" in kept  # years are the plan's own
    assert "16" in lexical_query_tokens("长宁在16个区里排第几？")
