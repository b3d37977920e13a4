"""The first stage: validating and normalising a question before anything slow loads."""

import pytest

from assistant.question import parse_question, strip_markup
from assistant.types import BadQuestion, Turn


def test_markup_is_stripped_and_does_not_make_a_chinese_question_english():
    question = parse_question("<p>请问长宁区<b>高新技术企业</b>到2025年要达到多少家？</p>")
    assert question.text == "请问长宁区 高新技术企业 到2025年要达到多少家?" and question.language == "zh"
    assert parse_question("## 咨询\n- 问题：全区绿色交通出行比例要超过多少？").language == "zh"
    assert "<b>" in parse_question("<b>绿化覆盖率</b>").raw  # the answer echoes what was asked


def test_script_bodies_and_entities():
    assert strip_markup("<script>alert(1)</script>养老床位&amp;护理") == " 养老床位&护理"
    assert strip_markup("养老床位多少张") == "养老床位多少张"


def test_english_questions_are_answered_in_english():
    assert parse_question("What is the green coverage target for 2025?").english


@pytest.mark.parametrize("raw", ["", "   ", "<b></b>", "\u200b\u200b", None, 42, "问" * 2001])
def test_bad_questions_are_refused_with_a_reason(raw):
    with pytest.raises(BadQuestion):
        parse_question(raw, max_chars=500)


def test_history_is_filtered_once():
    history = [Turn("system", "x"), Turn("user", " "), Turn("user", "问" * 600), Turn("user", "养老床位多少张？"),
               Turn("assistant", "850张")]
    assert parse_question("那教育呢？", history, max_chars=500).history == (history[3], history[4])
