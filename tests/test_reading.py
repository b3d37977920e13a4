"""Reading what a question asks for."""

import pytest

from assistant.reading import read as read_intent, states_quantity


def test_number_questions_and_their_units():
    intent = read_intent("上海国际体操中心项目总投资是多少亿元？")
    assert intent.numeric and intent.measure == "money"
    assert read_intent("新增多少张养老床位").measure == "count"
    assert read_intent("护理型床位占多大比重？").measure == "share"
    assert read_intent("绿化覆盖率的目标是多少？").measure is None
    assert not read_intent("这几年区里对非成套的里弄房子有什么说法？").numeric  # "这几年" does not ask how many


def test_a_quantity_must_be_stated_in_the_unit_asked_for():
    assert not states_quantity("完成上海国际体操中心、娄山关路 445 弄综合项目等重大设施建设", "money")
    assert states_quantity("新增养老床位 850 张", "count")
    assert states_quantity("以轨交站点为核心、六百米为半径", "length")
    assert states_quantity("城镇登记失业人数\t人\t完成市下达指标", "people")


def test_an_english_question_in_a_unit_or_for_money_asks_a_figure_in_it():
    gdp = read_intent("What was Changning's GDP in 2020, in billions of yuan?")
    assert gdp.numeric and gdp.units == ("亿元",)
    assert read_intent("How much money will Changning spend on elevators?").measure == "money"
    # "how many" with a unit named asks a figure in that unit, not a count
    assert read_intent("By 2025, how many yuan of tax per square metre should buildings generate?").measure is None
    assert not read_intent("指标表里单位是“岁”的那一项，目标是怎么定的？").numeric  # a column, not a figure


@pytest.mark.parametrize("question, period", [
    ("十三五期间绿化覆盖率提升到了多少？", "past"),
    ("2025年高新技术企业要达到多少家？", "future"),
    ("那前五年一共建了多少？", "past"),
    ("五违四必指什么？", None),
])
def test_period(question, period):
    assert read_intent(question).period == period


def test_rates_named_as_words():
    assert read_intent("人口出生率要达到多少？").rates == ("出生率",)


def test_list_locate_define():
    assert read_intent("加大重点领域创新力度包括哪些方面？").listing
    assert read_intent("就业创业方面的举措写在哪里？").locate
    assert read_intent("什么是GMV").define
    assert not read_intent("十三五期间消除了哪几条黑臭水体？").numeric  # 哪几 lists, it does not count


def test_when_and_how_long_questions_want_a_date_or_a_duration():
    assert read_intent("碳排放什么时候达峰？").measure == "date"
    assert states_quantity("确保在2025年前实现碳排放达峰", "date")
    assert read_intent("坐高铁去杭州最快要多久？").measure == "duration"
    assert not states_quantity("即“上海服务”“上海制造”“上海购物”和“上海文化”。", "duration")


def test_constraints_the_question_pins_down():
    reading = read_intent("静安区2022年新增了多少亿元投资？")
    assert reading.places == ("静安区",) and reading.years == (2022,) and reading.units == ("亿元",)
    assert read_intent("到二〇三五年人均寿命多少岁？").years == (2035,)
    assert read_intent("What is Shanghai-wide target in micrograms?").units == ("微克",)
    assert read_intent("长宁区的绿化覆盖率").places == ()  # Changning is the plan's own place
    assert read_intent("区长是谁？").asks_person


def test_proper_names_are_read_by_part_of_speech_not_by_suffix_alone():
    assert read_intent("长风公园什么时候改造？").names == (("长风公园", "长风"),)
    assert read_intent("同仁医院要新建什么？").names == (("同仁医院", ""),)
    # After Changning itself the suffixed word is the common part: the plan must write it.
    assert read_intent("长宁区中心医院要迁到哪里？").names == (("长宁区中心医院", "中心医院"),)
    assert read_intent("长宁跨国公司地区总部要新增几家？").names == (("长宁跨国公司", "跨国公司"),)
    # A common noun before the suffix: the verdict lets it through when the plan writes 社区.
    assert read_intent("社区医院看病方便吗？").names == (("社区医院", "社区"),)
    assert read_intent("我家附近有没有新开幼儿园？").names == ()
    # A proper noun a modifier or two before the suffix makes the whole name proper.
    assert read_intent("长宁实验小学会不会改扩建？").names == (("长宁实验小学", ""),)
    assert read_intent("天山第一小学要扩建吗？").names == (("天山第一小学", ""),)


def test_rows_parts_and_outline_references():
    assert read_intent("主要指标第十五项是什么？").rows == (15,)
    assert read_intent("第六章第二节讲什么").outline_refs == ((6, 2),)
    assert read_intent("Which sections make up chapter 11 of the plan?").outline_refs == ((11, None),)
    assert read_intent("What does section 3 of chapter 9 say?").outline_refs == ((9, 3),)
    assert read_intent("主要指标序号13到15这三项分别是什么？").rows == (13, 14, 15)
    assert read_intent("十三五末绿化覆盖率多少？2025年的目标又是多少？").parts == (
        "十三五末绿化覆盖率多少", "2025年的目标又是多少")
    assert read_intent("高新技术企业数和发明专利拥有量的目标分别是多少？").parts == (
        "高新技术企业数的目标分别是多少?", "发明专利拥有量的目标分别是多少?")
    assert read_intent("新增养老床位多少张？").parts == ()


def test_a_locate_question_is_searched_by_its_subject():
    assert read_intent("碳达峰在规划里哪里提到了？").subject == "碳达峰"


def test_what_a_resident_tells_of_themselves_pins_nothing_down():
    # The place they live and the park they run in are their story, not what they ask about.
    story = read_intent(("我每天早上在天山公园跑五公里，跑了三年了。我好奇区里经常参加体育锻炼的人要占到百分之几？"))
    assert story.names == () and story.numeric
    lives = read_intent(("我住在北新泾，亲眷在普陀那边。规划里有没有讲要造一座跨吴淞江的桥？"))
    assert lives.places == ()
    # A place named where the question asks still pins it down.
    assert read_intent(("静安区的养老床位，十四五要新增多少张？")).places == ("静安区",)
    # Words of the story do not say what is asked: "用不了多久" asks no duration.
    assert not read_intent(("买新的太贵了又怕用不了多久，能不能在社区里租？")).numeric


def test_which_one_is_not_how_many():
    assert not read_intent(("这一轮普法是第几个五年普法？")).numeric
    assert read_intent(("区里说老百姓的安全感要打到几分以上？")).numeric


def test_english_targets_for_a_and_for_b_are_two_parts():
    from assistant.reading import split_parts

    assert split_parts("What are the 2025 targets for the number of high-tech enterprises and for R&D spending?") == (
        "What are the 2025 targets for the number of high-tech enterprises?", "What are the 2025 targets for R&D spending?")
    assert split_parts("What is the target for research and development spending?") == ()  # one thing


def test_the_plan_s_own_periods_are_names_not_figures():
    assert not states_quantity("《长宁区国民经济和社会发展第十四个五年规划和二〇三五年远景目标纲要》是指导长宁区未来发展的行动纲领。")
    assert states_quantity("“十四五”期间新增养老床位 850 张")


def test_a_counted_thing_is_not_a_name():
    assert read_intent("研究生毕业在长宁一家公司上班，想落户，区里能直接审批伐？").names == ()  # some company
    assert read_intent("天山第一小学要扩建吗？").names == (("天山第一小学", ""),)  # an ordinal names one


def test_a_place_jieba_knows_by_name_is_a_name():
    assert ("上海动物园", "") in read_intent("上海动物园十四五期间会不会改造扩建？").names
    assert read_intent("上班族早上来不及吃早饭，区里管不管？").names == ()  # a common word, not a place


def test_questions_for_a_section_s_parts_are_read_in_more_wordings():
    for q in ("对接全市“四大功能”的那一节，具体要强化哪几种功能？", "社会治理创新这一块讲了哪几件事？",
              "教育现代化那一节有哪几项主要任务？", "打造“数字长宁”分几个方向推进数字化？"):
        assert read_intent(q).listing, q
    assert not read_intent("听说要新建一个养老院，具体是哪块地？").listing  # where, not parts


def test_a_follow_up_points_at_the_part_of_the_plan_the_conversation_is_on():
    earlier = ("规划哪一节讲养老服务？", "在第九章第六节“大力提升养老服务水平”。")
    assert read_intent("这一节讲了哪几件事？", earlier=earlier).outline_refs == ((9, 6),)
    chapter = ("第八章讲的是什么？", "第八章“不断提升城区环境品质”，分三节。")
    third = read_intent("第三节讲的是什么？", earlier=chapter)
    assert third.outline_refs == ((8, 3),) and third.listing  # what it is about: its parts
    english = ("Which section covers elderly care?", "Chapter 9, section (6): 大力提升养老服务水平.")
    assert read_intent("What are its main measures?", earlier=english).outline_refs == ((9, 6),)
    assert read_intent("第九章（六）讲什么").outline_refs == ((9, 6),)  # as answers label a section
    assert read_intent("这一节讲了哪几件事？").outline_refs == ()  # nothing to point at


def test_what_time_asks_a_time_not_parts():
    reading = read_intent("中山公园晚上几点关门？")
    assert reading.numeric and reading.measure == "date" and not reading.listing


def test_which_road_asks_for_an_address_stated_as_a_road_or_number():
    assert read_intent("新院址在哪条路上？").measure == "address" and read_intent("门牌号是多少？").measure == "address"
    assert states_quantity("完成临洮路跨吴淞江桥梁", "address")
    assert states_quantity("新建清池路 108 号地块养老院项目。", "address")
    assert not states_quantity("完善区域道路系统建设，积极融入一带一路", "address")


def test_a_day_or_month_asks_for_a_date_finer_than_the_plan_s_years():
    assert read_intent("宜家荟聚哪一天开业？").measure == "day" and read_intent("几月份开工？").measure == "day"
    assert read_intent("要几天？").measure == "duration" and read_intent("坐几号线能到？").measure != "day"
    assert not states_quantity("确保在2025年前实现碳排放达峰", "day")


def test_a_score_is_asked_in_points_and_stated_in_them():
    assert read_intent("安全感满意度要打到几分？").measure == "score"
    assert read_intent("What satisfaction score is the target?").measure == "score"
    assert read_intent("几分钟能走到地铁站？").measure != "score"
    assert states_quantity("公众安全感满意度达到 96 分以上。", "score")
    assert not states_quantity("实现 15 分钟社区生活圈全覆盖", "score")


def test_a_year_alone_is_not_the_period_it_closes():
    assert read_intent("2020年这一年社会救助金额是多少？").one_year
    assert read_intent("How fast did investment grow in 2020 alone?").one_year
    assert not read_intent("十三五末的养老床位有多少张？").one_year


def test_a_metro_line_by_its_number_is_a_name():
    assert ("15号线", "") in read_intent("轨交15号线在长宁设几个站？").names
    assert read_intent("十四五期间新增多少个停车泊位？").names == ()


def test_the_whole_country_as_a_level_is_not_a_place():
    assert read_intent("长宁要办的那个全国级别的舞蹈比赛叫什么？").places == ()
    assert read_intent("全国十四五期间要新增多少家高新技术企业？").places == ("全国",)


def test_the_last_chapter_and_a_chapter_s_opening():
    assert read_intent("最后一章讲了哪几个方面？").outline_refs == ((11, None),)
    opening = read_intent("第八章开头提到了哪些目标？")
    assert opening.outline_refs == ((8, None),) and not opening.listing  # the opening paragraph, not the sections
