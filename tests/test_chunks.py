"""Chunks: never across a section, one per indicator row and glossary term, within budget."""

import pytest

from assistant.chunks import MAX_TOKENS, chunk_outline
from assistant.text import count_tokens, split_sentences


@pytest.fixture(scope="module")
def chunks(outline):
    return chunk_outline(outline)


def test_no_chunk_crosses_a_section(chunks, outline):
    for chunk in chunks:
        if chunk.kind != "paragraph" or chunk.chapter is None:
            continue
        if chunk.section is None:
            home = "\n".join(p.text for p in outline.chapter(chunk.chapter).intro)
        else:
            home = outline.section(chunk.chapter, chunk.section).text
        assert chunk.text in home, chunk.id


def test_each_indicator_row_and_glossary_term_is_its_own_chunk(chunks):
    indicators = [c for c in chunks if c.kind == "indicator"]
    glossary = [c for c in chunks if c.kind == "glossary"]
    assert [c.indicator for c in indicators] == list(range(1, 23))
    assert [c.glossary for c in glossary] == list(range(1, 21))
    assert all((c.chapter, c.section) == (2, 4) for c in indicators)
    assert all((c.chapter, c.section) == (12, None) for c in glossary)


def test_labels_name_chapter_section_and_indicator(chunks):
    labels = {c.label for c in chunks}
    assert "第二章（四）主要指标 · 指标6 高新技术企业数" in labels
    assert "第九章（六）大力提升养老服务水平 · 优化养老机构布局" in labels
    assert "第三章 全力提升城区能级和核心竞争力" in labels  # a chapter's intro
    assert "附件 名词解释 · 1 五违四必" in labels


def test_embedded_text_is_prefixed_with_its_heading_path(chunks):
    six = next(c for c in chunks if c.indicator == 6)
    assert six.search_text.startswith("二、指导思想和发展目标 > （四）主要指标")
    assert "主要指标：高新技术企业数（家），目标值：2025年达到600家" in six.search_text
    beds = next(c for c in chunks if "新增养老床位" in c.text)
    assert beds.search_text.startswith("九、努力创造高品质生活 > （六）大力提升养老服务水平 > 优化养老机构布局")


def test_chunks_keep_to_the_token_budget(chunks):
    for chunk in chunks:
        if chunk.kind == "paragraph" and len(split_sentences(chunk.text)) > 1:
            assert count_tokens(chunk.text) <= MAX_TOKENS, chunk.id


def test_chunk_ids_are_unique(chunks):
    assert len({c.id for c in chunks}) == len(chunks)
