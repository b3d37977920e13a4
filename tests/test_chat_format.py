"""How the chat page shows questions and answers: escaped, cited, with sources."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from assistant.types import Answer, Citation
from assistant.chat_format import (PlanPassages, find_quote, format_answer, format_notice, format_question,
                                   highlight, mark_citations)

INDICATOR = Citation(2, 4, 6, None, "第二章（四）主要指标 · 指标6 高新技术企业数", "高新技术企业数\t家\t2025年达到600家")
ACHIEVEMENT_QUOTE = "新增公共绿地27.2万平方米、立体绿化15万平方米，绿化覆盖率提升至33.16%。"
ACHIEVEMENT = Citation(1, 1, None, None, "第一章（一）“十三五”主要成就 · 城区环境品质显著提升", ACHIEVEMENT_QUOTE)


class Tags(HTMLParser):
    """The elements and attributes a browser would build from the HTML."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def names(self) -> set[str]:
        return {tag for tag, _ in self.tags}


@pytest.fixture(scope="module")
def passages(outline) -> PlanPassages:
    return PlanPassages(outline)


def answer_with(text: str, citations: list[Citation], answerable: bool = True, language: str = "zh") -> Answer:
    return Answer(question="q", answer=text, answerable=answerable, citations=citations, language=language)


def test_question_with_html_is_shown_as_text():
    shown = format_question("看看 <img src=x onerror=alert(1)> 这个")
    assert "<img" not in shown
    assert "&lt;img src=x onerror=alert(1)&gt;" in shown
    assert Tags(shown).names() == {"div"}


def test_question_with_markdown_image_stays_literal():
    # The chatbot renders HTML with Markdown off, so these characters are only text.
    shown = format_question("![x](http://example.com/x.png) **粗体** $x^2$")
    assert "![x](http://example.com/x.png) **粗体** $x^2$" in shown
    assert Tags(shown).names() == {"div"}


def test_long_question_is_cut_for_display():
    shown = format_question("长" * 800, limit=500)
    assert shown.count("长") == 500 and "…" in shown


def test_citation_markers_become_superscripts():
    html = mark_citations("甲[1]乙[2]", 2)
    assert html == '甲<sup class="pa-ref">[1]</sup>乙<sup class="pa-ref">[2]</sup>'


def test_brackets_that_are_not_citations_stay_text():
    assert mark_citations("见[3]和[a]", 2) == "见[3]和[a]"
    assert mark_citations("<b>[1]</b>", 1) == '&lt;b&gt;<sup class="pa-ref">[1]</sup>&lt;/b&gt;'


def test_answer_shows_each_citation_label_and_quote(passages):
    answer = answer_with("根据《纲要》主要指标第6项，高新技术企业数（家）：2025年达到600家。[1]", [INDICATOR])
    html = format_answer(answer, passages)
    assert "600家" in html and '<sup class="pa-ref">[1]</sup>' in html
    assert "第二章（四）主要指标 · 指标6 高新技术企业数" in html
    assert '<blockquote class="pa-quote">高新技术企业数　家　2025年达到600家</blockquote>' in html
    tags = Tags(html)
    assert sum(1 for tag, attrs in tags.tags if tag == "details" and attrs.get("class") == "pa-source") == 1


def test_indicator_source_opens_the_indicator_table_with_its_row_marked(passages):
    html = format_answer(answer_with("…[1]", [INDICATOR]), passages)
    hit = re.search(r'<tr class="pa-hit">(.*?)</tr>', html)
    assert hit and "<td>6</td>" in hit.group(1) and "高新技术企业数" in hit.group(1)
    assert html.count("<tr") == 1 + 22  # header and every indicator row


def test_section_source_opens_the_full_section_with_the_quote_highlighted(passages, outline):
    html = format_answer(answer_with("…[1]", [ACHIEVEMENT]), passages)
    assert "第一章（一）“十三五”主要成就" in html
    assert f"<mark>{ACHIEVEMENT_QUOTE}</mark>" in html
    # the whole section is there, not just the quote
    assert "深度转型取得重大进展" in html
    assert len(html) > len(outline.section(1, 1).text)


def test_glossary_source_opens_the_term(passages, outline):
    term = outline.glossary[0]
    citation = Citation(12, None, None, 1, f"附件 名词解释 · 1 {term.term}", term.definition)
    html = format_answer(answer_with("…[1]", [citation]), passages)
    assert f"<mark>{term.definition}</mark>" in html


def test_plan_text_is_escaped_too(passages):
    citation = Citation(1, 1, None, None, "标签<script>x</script>", "引文<img src=x>")
    html = format_answer(answer_with("答<b>案</b>[1]", [citation]), passages)
    assert "script" not in Tags(html).names() and "img" not in Tags(html).names() and "b" not in Tags(html).names()
    assert "标签&lt;script&gt;" in html and "引文&lt;img src=x&gt;" in html


def test_refusal_is_plain_and_has_no_sources(passages):
    answer = answer_with("《纲要》中没有提到这方面的内容，无法根据《纲要》回答这个问题。", [], answerable=False)
    html = format_answer(answer, passages)
    assert html.startswith('<div class="pa-refusal">')
    assert "pa-source" not in html and "<details" not in html and "<sup" not in html


def test_english_refusal_gets_an_english_hint(passages):
    html = format_answer(answer_with("The Outline does not mention this.", [], answerable=False, language="en"), passages)
    assert "Try rephrasing" in html


def test_highlight_ignores_whitespace_and_width_differences():
    text = "第一句。新增公共绿地 27.2 万平方米，\n绿化覆盖率提升至33.16%。后一句。"
    assert highlight(text, "新增公共绿地27.2万平方米，绿化覆盖率提升至33.16％。") == (
        "第一句。<mark>新增公共绿地 27.2 万平方米，\n绿化覆盖率提升至33.16%。</mark>后一句。")


def test_highlight_of_a_list_lead_quote():
    assert find_quote("前文。——强化科技创新策源功能。后文", "——强化科技创新策源功能") == (3, 15)


def test_unfound_quote_leaves_the_text_unmarked():
    assert highlight("a < b", "不在其中") == "a &lt; b"


def test_notice_is_escaped():
    assert format_notice("<b>x</b>") == '<div class="pa-notice">&lt;b&gt;x&lt;/b&gt;</div>'
