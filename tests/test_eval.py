"""The evaluation sets and their scoring (../shared/CONTRACT.md §3), and a full run of both:
quotes verbatim, answers in contract shape, accuracy above the floors (eval/README.md)."""

import json
from pathlib import Path

import pytest

from assistant.compose import quote_is_verbatim
from eval.__main__ import run
from eval.scoring import Item, load_items, score

EVAL = Path(__file__).resolve().parent.parent / "eval"
SETS = {name: EVAL / f"{name}.jsonl"
        for name in ("dev", "blind", "blind2", "blind3", "blind4", "blind5", "blind6", "blind7", "blind8",
                     "blind9", "blind10", "blind11")}
# blind4: names and units; blind6: residents, English, multi-part, near misses; blind7: residents;
# blind8: the plan's structure, the table, follow-ups. The others hold at least 140 items.
SIZES = {"blind4": 70, "blind6": 130, "blind7": 120, "blind8": 110, "blind11": 120}
# About 0.03 under the accuracy measured on each set (eval/README.md): a regression alarm.
# blind9 and blind11 are held out: their floors guard the honest estimate, never a target to tune to.
FLOORS = {"dev": 0.93, "blind": 0.94, "blind2": 0.95, "blind3": 0.90, "blind4": 0.86,
          "blind5": 0.90, "blind6": 0.87, "blind7": 0.91, "blind8": 0.86, "blind9": 0.86, "blind10": 0.78,
          "blind11": 0.87}


def item(**overrides) -> Item:
    base = dict(id="t", category="indicator", split="dev", question="q", history=[], answerable=True,
                expected_facts=["600"], expected_citations=[{"chapter": 2, "section": 4, "indicator": 6}])
    return Item(**{**base, **overrides})


def test_scoring_removes_whitespace_and_matches_every_named_key():
    answer = {"answer": "2025年达到 6 00家", "answerable": True,
              "citations": [{"chapter": 2, "section": 4, "indicator": 6, "glossary": None}],
              "sources": [{"chapter": 9, "section": 6, "indicator": None}] * 4 + [{"chapter": 2, "section": 4, "indicator": 6}]}
    s = score(item(), answer)
    assert s.fact_ok and s.citation_ok and s.correct and not s.hit1 and s.hit5
    wrong_row = {**answer, "citations": [{"chapter": 2, "section": 4, "indicator": 7}]}
    assert not score(item(), wrong_row).correct


def test_refusal_scoring():
    refused = {"answer": "《纲要》中没有提到", "answerable": False, "citations": [], "sources": []}
    assert score(item(answerable=False, expected_facts=[], expected_citations=[]), refused).correct
    assert not score(item(), refused).correct


@pytest.mark.parametrize("name", SETS)
def test_eval_set_is_well_formed_and_its_facts_are_in_the_plan(plan_text, name):
    items = load_items(SETS[name])
    assert len(items) >= SIZES.get(name, 140) and len({i.id for i in items}) == len(items)
    assert {i.split for i in items} == {name}
    squashed = "".join(plan_text.split())
    for i in items:
        assert i.answerable == bool(i.expected_citations), i.id
        for fact in i.expected_facts:
            assert "".join(fact.split()) in squashed, (i.id, fact)


@pytest.fixture(scope="module")
def full_run(assistant):
    return {name: run(assistant, load_items(path)) for name, path in SETS.items()}


def test_every_citation_quote_of_a_full_eval_run_is_verbatim_in_the_plan(full_run, plan_text):
    quotes = [c["quote"] for scores in full_run.values() for s in scores for c in s.answer["citations"]]
    assert quotes and all(quote_is_verbatim(q, plan_text) for q in quotes)


def test_every_answer_is_contract_json(full_run):
    for scores in full_run.values():
        for s in scores:
            json.dumps(s.answer, ensure_ascii=False)
            assert len(s.answer["sources"]) >= 5
            assert s.answer["answerable"] or s.answer["citations"] == []


@pytest.mark.parametrize("name", SETS)
def test_accuracy_stays_above_the_floor(full_run, name):
    scores = full_run[name]
    assert sum(s.correct for s in scores) / len(scores) >= FLOORS[name]
