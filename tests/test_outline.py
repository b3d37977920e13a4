"""The outline parser against the plan's body: structure and the known page-break repairs."""

from assistant.outline import cn_number, lead_title

SECTIONS_PER_CHAPTER = [3, 4, 3, 3, 5, 3, 3, 3, 8, 4, 4]


def test_body_has_eleven_chapters_with_their_sections(outline):
    assert [c.number for c in outline.chapters] == list(range(1, 12))
    from assistant.reading import LAST_CHAPTER

    assert outline.chapters[-1].number == LAST_CHAPTER  # "最后一章"
    assert [len(c.sections) for c in outline.chapters] == SECTIONS_PER_CHAPTER
    assert outline.chapter(9).title == "努力创造高品质生活"
    assert outline.section(9, 6).title == "大力提升养老服务水平"


def test_body_wins_over_table_of_contents(outline):
    # The TOC says （三）加大民主监督; the body says 加大监督保障.
    assert outline.section(11, 3).title == "加大监督保障"


def test_main_indicator_table_has_22_rows(outline):
    assert [i.number for i in outline.indicators] == list(range(1, 23))
    six = outline.indicators[5]
    assert (six.name, six.unit, six.target) == ("高新技术企业数", "家", "2025年达到600家")
    assert outline.indicators[12].nature == "市下达" and outline.indicators[19].nature == "市下达"
    assert outline.indicators[0].nature == "预期性"
    assert "预期性指标" in outline.indicator_note


def test_glossary_has_20_terms_including_the_last_line(outline):
    assert [g.number for g in outline.glossary] == list(range(1, 21))
    assert outline.glossary[0].term == "五违四必"  # ** markers stripped
    assert outline.glossary[19].term == "城市家具"
    assert outline.glossary[19].definition.endswith("艺术景观设计（雕塑、艺术小品）等。")


def test_preamble_belongs_to_no_chapter(outline):
    assert len(outline.preamble) == 2
    assert outline.preamble[0].text.startswith("“十四五”时期是我国")


def test_text_under_a_chapter_before_its_first_section_is_its_intro(outline):
    assert outline.chapter(3).intro[0].text.startswith("顺应国内外发展格局深刻调整")
    assert outline.chapter(1).intro == []


def test_page_breaks_mid_sentence_are_repaired(outline):
    text = "\n".join(p.text for p in outline.section(1, 1).paragraphs)
    assert "高于“十二五”期末6.15个百分点" in text
    assert "居住证“全时空”办理" in text
    assert "创建全国困境儿童保障示范区，首创" in text
    assert "争创一流的创新精神" in outline.section(2, 2).text


def test_page_break_between_sentences_stays_in_its_subsection(outline):
    leads = {p.lead: p.text for p in outline.section(1, 1).paragraphs}
    assert "“虹桥智谷”在全市人工智能产业格局中的显示度进一步提升" in leads["深度转型取得重大进展"]
    assert "拓展公共服务事项接入" in {p.lead: p.text for p in outline.section(3, 3).paragraphs}["以“两张网”建设为重点推进治理数字化"]


def test_text_is_otherwise_verbatim(outline, plan_text):
    squashed = "".join(plan_text.split())
    for chapter in outline.chapters:
        for section in chapter.sections:
            for paragraph in section.paragraphs:
                assert "".join(paragraph.text.split()) in squashed


def test_subsection_leads():
    assert lead_title("——深度转型取得重大进展。新旧动能加快转换") == "深度转型取得重大进展"
    assert lead_title("——长宁的世界影响力全面提升，城区能级和核心竞争力达到更高水平，经济社会发展、生态环境品质、城区安全程度等更多指标迈入全球一流行列。") == "长宁的世界影响力全面提升"


def test_chinese_numerals():
    assert [cn_number(n) for n in ["一", "九", "十", "十一"]] == [1, 9, 10, 11]
