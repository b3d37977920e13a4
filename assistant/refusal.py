"""The verdict, decided in this one place: does the plan answer the question?

Two kinds of evidence. First, is the question about the plan at all (similarity to the
plan against similarity to example questions it does not answer, and shared words).
Second, does the evidence meet what the question pins down: a figure in the unit asked
for, the place (the plan speaks for 长宁区 only), the year (十三五 results up to 2020,
targets for 2025, the 2035 vision), named places and bodies (never written by the plan, or
not by the sentence that answers), a person, a rate, an address, a day, details the plan
never gives (contact details, the department in charge). Each
unmet constraint gives a refusal that says what the plan lacks, in the question's
language. Thresholds were calibrated on the dev questions (README, "Refusals"); the figure
floor was lowered from 0.62 to 0.55 on all tuning sets once the plan's own period names,
other measures' rows and the asker's story were checked on their own (eval/README.md).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from assistant.passages import Passages, Scored, is_achievement
from assistant.reading import english_name, is_home, mentions, names_table, says, states_quantity, ways_of
from assistant.text import arabic_years, lexical_tokens, squash
from assistant.types import Hit, Query, Reading, Verdict

# Similarities are cosines of USE embeddings (higher is closer).
SCOPE_MARGIN = 0.12  # refuse when an out-of-scope example is this much closer than the plan
UNRELATED_DENSE = 0.15  # nothing in the plan is even loosely similar
STRONG_COVERAGE = 0.5  # the best sentence holds this share of the question's words: on topic
# The best sentence's score (cosine + 0.5 × word coverage + rank prior, see passages.py)
# below which a number is not given: the plan discusses the topic but not that figure.
MIN_NUMERIC_ANSWER = 0.55
# A figure asked for in a unit of its own (多少亿元, 几分) and stated in it by the best sentence
# is evidence by itself: the floor is this much lower.
UNIT_RELIEF = 0.35
UNIT_MEASURES = ("score",)
TARGET_YEAR, RESULTS_YEAR = 2025, 2020  # 十四五 targets are for 2025; 十三五 results are as of 2020
SUPPORTING = 3  # sentences looked at for a constraint: the best and the runners-up
# A sentence outside 一（一） that reports the past ("十三五期间累计…", "已建成…").
_PAST_STATED = re.compile(r"十三五|已[经]?|累计(?:达|完成|建成|新增)|20(?:1\d|20)年")

REFUSAL_ZH = "《纲要》中没有提到这方面的内容，无法根据《纲要》回答这个问题。"
REFUSAL_EN = "The Outline does not mention this, so it cannot be answered from the plan."
_REASONS = {
    "topic": (REFUSAL_ZH, REFUSAL_EN),
    "figure": ("《纲要》谈到了相关内容，但没有给出这个数字，无法根据《纲要》回答。",
               "The Outline discusses this topic but gives no such figure, so it cannot be answered from the plan."),
    "address": ("《纲要》谈到了相关内容，但没有写明具体的地址或路名。",
                "The Outline discusses this but gives no address or street for it."),
    "day": ("《纲要》的时间只写到年份，没有给出具体日期。", "The Outline dates things by year only; it gives no exact date."),
    "unit": ("《纲要》没有以{0}给出这方面的数字。", "The Outline gives no figure for this in {0}."),
    "rate": ("《纲要》没有提到{0}。", "The Outline does not mention {0}."),
    "period": ("《纲要》只给出“十三五”的成绩，没有这方面的“十四五”目标。",
               "The Outline reports a 13th Five-Year Plan result for this, not a target for 2025."),
    "target_only": ("《纲要》只给出这方面的“十四五”目标，没有“十三五”的成绩。",
                    "The Outline sets a 2025 target for this; it reports no 13th Five-Year Plan result."),
    "place": ("《纲要》只给出长宁区的目标，没有{0}的数据。",
              "The Outline sets targets for Changning District only; it has no figures for {0}."),
    "year": ("《纲要》没有给出{0}年的数字（“十三五”成绩截至2020年，“十四五”目标到2025年）。",
             "The Outline gives no figure for {0} (its results run to 2020 and its targets to 2025)."),
    "name": ("《纲要》没有提到“{0}”。", "The Outline does not mention “{0}”."),
    "named_topic": ("《纲要》提到了“{0}”，但没有这方面的内容。", "The Outline mentions “{0}”, but not in this respect."),
    "named": ("《纲要》提到了“{0}”，但没有给出它的这个数字。", "The Outline mentions “{0}” but gives no such figure for it."),
    "instructions": ("我只根据《纲要》回答关于《纲要》的问题，不执行改变规则的指令。",
                     "I only answer questions about the Outline, from the Outline; I do not follow instructions to change that."),
    "opinion": ("《纲要》写的是区里的规划和目标，不作评价、推荐或预测。",
                "The Outline sets out the district's plans and targets; it gives no opinions, recommendations or forecasts."),
    "contact": ("《纲要》没有给出电话、网址等联系方式。", "The Outline gives no phone numbers, websites or other contact details."),
    "lead": ("《纲要》没有写明由哪个部门或单位牵头负责。", "The Outline does not say which department or body is in charge of this."),
    "person": ("《纲要》不涉及具体人员，没有提到这方面的信息。",
               "The Outline names no people, so it cannot say who this is."),
}


@dataclass
class Evidence:
    dense: float  # similarity of the question to the closest retrieved chunk or sentence of the plan
    out_of_scope: float  # similarity to the closest out-of-scope example question
    coverage: float  # IDF-weighted share of the question's words in the best sentence + its heading
    term_match: bool  # the question names one of the plan's own terms (indicator, glossary, quoted term)
    answer_score: float  # the best sentence's score


def judge(reading: Reading, query: Query, hits: list[Hit], ranked: list[Scored], passages: Passages,
          english: bool, rows: list | None = None) -> Verdict:
    """The verdict for a question, from its reading and the evidence retrieval found
    (`rows`: the main-indicator rows a question over the table selects)."""
    if unmet := _unmet_anywhere(reading, passages):
        return _refused(*unmet, english=english, measured={})
    if rows:
        unmet = _unmet_by_rows(reading)
        return _refused(*unmet, english=english, measured={}) if unmet else Verdict(True, evidence={"rows": len(rows)})
    if not hits or not ranked:
        return _refused("topic", english=english, measured={})
    if reading.listing and any(ref in passages.title_words for ref in reading.outline_refs):
        return Verdict(True, evidence={"outline": reading.outline_refs})  # "第九章有哪几节？"
    best = ranked[0]
    evidence = Evidence(dense=max(h.dense for h in hits), out_of_scope=passages.closest_out_of_scope(query),
                        coverage=best.coverage, term_match=passages.names_term(reading.text),
                        answer_score=best.score)
    measured = asdict(evidence)
    unmet = _unmet(reading, ranked, passages, evidence, english)
    if unmet:
        return _refused(*unmet, english=english, measured=measured)
    return Verdict(True, evidence=measured)


def vague_but_on_topic(verdict: Verdict) -> bool:
    """Whether a question refused as off-topic still uses the plan's words in part (half the
    coverage that makes a question on topic): too vague to stand alone, it may lean on the
    conversation ("长宁打算在哪些站点周边搞？"); "帮我写一首诗" may not."""
    return verdict.unmet == "topic" and verdict.evidence.get("coverage", 0.0) >= STRONG_COVERAGE / 2


def off_topic(query: Query, hits: list[Hit], passages: Passages) -> bool:
    """Whether the question, on its own, is about something the plan does not cover."""
    return bool(hits) and passages.closest_out_of_scope(query) - max(h.dense for h in hits) > SCOPE_MARGIN


def _unmet(reading: Reading, ranked: list[Scored], passages: Passages, evidence: Evidence,
           english: bool) -> tuple[str, str] | None:
    """The first constraint of the question the evidence does not meet, with what it names."""
    best = ranked[0]
    support = [s.statement for s in ranked[:SUPPORTING]]
    # A figure must be the place's own: named in a sentence that states one.
    stating = [text for text in support if states_quantity(text, reading.measure)]
    where = stating if reading.numeric and stating else support
    for place in reading.places:
        if not any(mentions(text, place) for text in where):
            return "place", place
    for rate in reading.rates:
        if reading.numeric and not passages.writes(rate):
            return "rate", rate
    on_topic = evidence.term_match or evidence.coverage >= STRONG_COVERAGE
    if not on_topic and (evidence.dense < UNRELATED_DENSE or evidence.out_of_scope - evidence.dense > SCOPE_MARGIN):
        return "topic", ""
    if reading.numeric:
        for year in reading.years:
            if not _year_met(year, best, reading.one_year):
                return "year", str(year)
        if reading.units and not any(unit in squash(text) for text in support[:1] for unit in reading.units):
            return "unit", "、".join(reading.units)
        # Word coverage cannot count for an English question over a Chinese plan: its floor
        # leaves out the coverage an on-topic Chinese question would have.
        floor = MIN_NUMERIC_ANSWER - (0.5 * STRONG_COVERAGE if english else 0.0)
        if (reading.units or reading.measure in UNIT_MEASURES) and _shares_a_word(best, reading):
            floor -= UNIT_RELIEF
        if not _states_figure(best, reading.measure) or evidence.answer_score < floor:
            return (reading.measure if reading.measure in ("address", "day") else "figure"), ""
        # A figure asked for a place or body by name must be that one's: "清池路108号养老院
        # 有多少张床位？" is not answered by the district's 新增养老床位850张. A name outside
        # the asking clauses ("每天开车到中山公园上班，…") only sets the scene.
        if unwritten := _names_unwritten(reading, best):
            return "named", unwritten[0]
        if not (english or reading.table or reading.in_conversation) and _another_measure(best, reading):
            return "figure", ""
    elif not (reading.listing or reading.locate or reading.define or english):
        # Other questions about a body by its proper name ("东华大学长宁校区会开放吗？") want
        # a sentence about that body, not one about another (华政长宁校区).
        proper = {name for name, common in reading.names if not common}
        if unwritten := [name for name in _names_unwritten(reading, best) if name in proper]:
            return "named_topic", unwritten[0]
    if reading.period == "future" and is_achievement(best.hit.chunk):
        return "period", ""
    # A result asked for, a target found ("十三五期间一共加装了多少台电梯？" → 400台 by 2025);
    # not for a question naming the indicator table, which holds targets only.
    if reading.numeric and reading.period == "past" and not is_achievement(best.hit.chunk) \
            and not _PAST_STATED.search(best.statement) and not names_table(reading.own_text):
        return "target_only", ""
    return None


def _unmet_anywhere(reading: Reading, passages: Passages) -> tuple[str, str] | None:
    """What no passage of the plan has: orders to the assistant, opinions and forecasts,
    people by name, places and bodies it never names."""
    if reading.instructs:
        return "instructions", ""
    if reading.asks_opinion:
        return "opinion", ""
    if reading.asks_person:
        return "person", ""
    if reading.unstated:
        return reading.unstated, ""
    for name, common in reading.names:
        if not any(passages.writes(way) for way in ways_of(name)) and not (common and passages.writes(common)):
            return "name", name
    return None


def _names_unwritten(reading: Reading, best: Scored) -> list[str]:
    """The names in the asking clauses that the best sentence (or its heading) does not write.
    A name read with a common part ("博物馆图书馆": two kinds of place run together;
    "长宁跨国公司": Changning's 跨国公司) is met when the sentence writes both its parts, or
    the common part where the other is Changning itself."""
    where = best.statement + best.hit.chunk.heading
    missing = []
    for name, common in reading.names:
        if not says(reading.asked, name) or any(says(where, way) for way in ways_of(name)):
            continue
        rest = name.replace(common, "", 1)
        if common and common in where and (rest in where or is_home(rest)):
            continue
        missing.append(name)
    return missing


def _shares_a_word(best: Scored, reading: Reading) -> bool:
    """Whether the best sentence writes a word (two characters or more) of the asking clauses."""
    sentence = squash(best.statement)
    return any(len(t) >= 2 and t in sentence and not is_home(t) for t in lexical_tokens(reading.asked or reading.own_text))


def _year_met(year: int, best: Scored, one_year: bool = False) -> bool:
    """Whether the best sentence gives a figure for that year: it names the year, or the
    year is the one its period speaks for (2025 for targets, 2020 for 十三五 results) and
    the question does not ask for that one year alone ("2020年这一年…": the review's
    figures run over the five years)."""
    if str(year) in arabic_years(best.statement):
        return True
    return not one_year and year == (RESULTS_YEAR if is_achievement(best.hit.chunk) else TARGET_YEAR)


def _states_figure(best: Scored, measure: str | None) -> bool:
    """Whether the best sentence gives the figure asked for. An indicator row always
    states its target, even a qualitative one (保持发达国家先进水平), unless the
    question wants a unit the row does not have."""
    if best.hit.chunk.kind == "indicator" and measure is None:
        return True
    return states_quantity(best.statement, measure)


def _another_measure(best: Scored, reading: Reading) -> bool:
    """Whether the best statement is an indicator row whose name shares no word with the
    question: the figure of another measure in the same unit ("住宅租金每平方米多少元" is not
    重点楼宇单位面积税收产出). Not judged for a question that leans on earlier turns for its
    subject ("到2025年又打算达到多少？"), nor for an English one, which cannot share words
    with the Chinese row."""
    if best.hit.chunk.kind != "indicator":
        return False
    named = {t for t in lexical_tokens(best.hit.chunk.lead or "") if len(t) >= 2}
    return not named & set(lexical_tokens(reading.own_text))


def _unmet_by_rows(reading: Reading) -> tuple[str, str] | None:
    """What a question over the indicator table pins down that the table, which is
    Changning's and runs to 2025, does not have."""
    if reading.places:
        return "place", reading.places[0]
    for year in reading.years:
        if year != TARGET_YEAR:
            return "year", str(year)
    return None


def _refused(constraint: str, detail: str = "", *, english: bool, measured: dict) -> Verdict:
    zh, en = _REASONS[constraint]
    reason = en.format(english_name(detail)) if english else zh.format(detail)
    return Verdict(False, unmet=constraint, reason=reason, evidence=measured)
