"""Follow-ups rewritten to stand alone, without a model (assistant/followup.py)."""

import pytest

from assistant.followup import points_back, standalone_question
from assistant.reading import read
from assistant.types import Turn

GOALS = [Turn("user", "“十四五”结束时长宁总体上要达到什么目标？"), Turn("assistant", "到2025年……")]
HOSPITALS = [Turn("user", "医疗方面要建哪些新项目？"), Turn("assistant", "……")]


def test_a_new_topic_keeps_what_was_asked():
    assert standalone_question("那养老呢？", HOSPITALS) == "养老 要建 哪些 项目"


@pytest.mark.parametrize("question", ["那2035年呢？", "那二〇三五年呢？", "那十三五末呢？"])
def test_a_new_time_keeps_the_topic(question):
    rewritten = standalone_question(question, GOALS)
    # the topic kept, the earlier period ("十四五") replaced by the one asked for
    assert "结束时长宁总体上要达到什么目标" in rewritten and "十四五" not in rewritten
    assert rewritten.endswith(question.replace("？", "?"))


def test_a_question_of_its_own_is_not_rewritten():
    own = "长宁区“十四五”期间要新增多少张养老床位？"
    assert standalone_question(own, GOALS) == own
    assert points_back("那2035年呢？") and not points_back("明天天气怎么样？")


def test_the_next_row_steps_from_the_row_asked_before():
    rows = [Turn("user", "主要指标第9项是什么？"), Turn("assistant", "第9项是每万人发明专利拥有量，2025年达到95件。")]
    rewritten = standalone_question("下一项呢？", rows)
    assert rewritten.startswith("主要指标第9项是什么")
    assert read("下一项呢？", rewritten).rows == (10,) and read("上一项呢？", rewritten).rows == (8,)


def test_the_one_after_a_row_steps_from_it():
    from assistant.types import Turn

    history = [Turn("user", "What is indicator 11?"), Turn("assistant", "The ratio of R&D spending to GDP, 3.5% by 2025.")]
    assert "11" in standalone_question("And the one after it?", history)


def test_a_follow_up_naming_a_period_replaces_the_earlier_one():
    from assistant.types import Turn

    rewritten = standalone_question("十三五末累计有多少家？", [Turn("user", "“十四五”要新增多少家跨国公司地区总部？")])
    assert "跨国公司地区总部" in rewritten and "十四五" not in rewritten


BELTS = [Turn("user", "“三带”指哪三条？"),
         Turn("assistant", "苏州河滨水商务休闲景观带、2号线创新经济发展带、延安西路-虹桥路时尚文化集聚带。")]
PARTS = [Turn("user", "第五章第二节包括哪些方面？"),
         Turn("assistant", "《纲要》第五章（二）中部虹桥地区包括3个方面：1. 持续提升国际贸易等功能[1]；"
                           "2. 加强区域整体规划和深度开发[2]；3. 完善商业文化等配套设施[3]。")]


@pytest.mark.parametrize("history, question, item", [
    (BELTS, "第二条带主要依托什么？", "2号线创新经济发展带"),
    (PARTS, "第三个具体说了什么？", "完善商业文化等配套设施"),
    (PARTS, "What does the second one say?", "加强区域整体规划和深度开发"),
])
def test_an_item_of_the_last_answer_is_named_by_its_place(history, question, item):
    assert points_back(question, history)
    assert item in standalone_question(question, history)
    assert read(question, standalone_question(question, history)).rows == ()  # an item, not an indicator row


def test_an_ordinal_in_a_conversation_over_the_table_is_a_row():
    rows = [Turn("user", "主要指标第1项是什么？"), Turn("assistant", "全区生产总值年均增速，与市级目标保持同步。")]
    assert read("第2项呢？", standalone_question("第2项呢？", rows)).rows == (2,)
    assert read("第二条带主要依托什么？").rows == () and read("主要指标第二条是什么？").rows == (2,)


def test_an_item_named_by_place_carries_the_question_across_to_the_plan(assistant):
    answer = assistant.ask("第二条带主要依托什么？", BELTS)
    assert "轨道交通2号线" in answer.answer and answer.citations[0].chapter == 5
