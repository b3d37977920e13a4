"""The main-indicator table queried as a table: rows selected by number, unit, kind of
target, words of the target, and topic, read from the rows themselves."""

import pytest

from assistant.reading import read
from assistant.table import IndicatorTable


@pytest.fixture(scope="module")
def table(assistant):
    return IndicatorTable(assistant.index.chunks)


def rows(table, question):
    return [r.number for r in table.select(read(question))]


def test_the_table_has_its_22_rows_with_units_and_targets(table):
    assert [r.number for r in table.rows] == list(range(1, 23))
    assert table.rows[5].unit == "家" and "600家" in table.rows[5].target


@pytest.mark.parametrize("question, expected", [
    ("主要指标第7项是什么？", [7]),
    ("第十五项指标的目标值是啥", [15]),
    ("主要指标最后一项是什么？", [22]),
    ("主要指标里单位是“家”的有哪些？", [5, 6, 8, 10]),
    ("哪些主要指标以“人次”计？", [7]),
    ("目标值写着“完成市下达指标”的有哪几项？", [13, 20]),
    ("22项主要指标里哪些是约束性指标？", [13, 20]),
    ("主要指标里按五年累计算的有哪些？", [5, 7, 8, 18]),
    ("哪些指标的目标是和别的保持“同步”的？", [1, 2]),
    ("序号为12的指标目标是多少", [12]),
    ("What is the 12th main indicator?", [12]),
    ("Which main indicators are measured in percent?", [1, 2, 3, 11, 12, 13, 14, 19, 22]),
    ("List the binding indicators.", [13, 20]),
    ("哪些主要指标没有具体数值，是定性的？", [1, 2, 15, 16, 17]),
    ("和企业有关的主要指标有哪些？", [5, 6, 10]),
    ("主要指标一共有多少项？", list(range(1, 23))),
    # The table's own caption names the table, not a topic: 经济社会发展 filters nothing.
    ("长宁“十四五”经济社会发展主要指标一共有多少项？", list(range(1, 23))),
    ("主要指标序号13到15这三项分别是什么？", [13, 14, 15]),
    ("单位用“件”的那项主要指标是什么？", [9]),
    ("单位为“岁”的那一行，目标值是怎么写的？", [17]),
    ("What are indicators 3 to 5?", [3, 4, 5]),
    # The kind named first is the one asked for.
    ("Which main indicators are binding rather than indicative?", [13, 20]),
    ("表格注释说大部分是预期性指标，那不属于预期性的、由市里下达的是哪几个？", [13, 20]),
    ("Which main indicators are not indicative?", [13, 20]),
    ("哪些主要指标是预期性而不是约束性的？", [n for n in range(1, 23) if n not in (13, 20)]),
])
def test_rows_are_selected_by_any_column(table, question, expected):
    assert rows(table, question) == expected


def test_an_ordinary_question_is_not_a_table_question(table):
    assert rows(table, "新增养老床位多少张？") == []


def test_table_answers_cite_every_row(assistant):
    answer = assistant.ask("主要指标里单位是“家”的有哪些？")
    assert [c.indicator for c in answer.citations] == [5, 6, 8, 10]
    assert "600家" in answer.answer and "18家" in answer.answer
