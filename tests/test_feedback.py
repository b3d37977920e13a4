"""Votes from the chat page: saved at once, kept across restarts, exported for the eval set."""

from __future__ import annotations

import json
import sqlite3

import pytest

from assistant.cli import main as cli
from assistant.feedback import FeedbackStore

ANSWER = {
    "question": "十三五的时候是多少？",
    "answer": "根据《纲要》第一章（一）…绿化覆盖率提升至33.16%。[1]",
    "answerable": True,
    "citations": [{"chapter": 1, "section": 1, "indicator": None, "glossary": None,
                   "label": "第一章（一）“十三五”主要成就 · 城区环境品质显著提升", "quote": "绿化覆盖率提升至33.16%。"}],
    "sources": [],
}
HISTORY = [{"role": "user", "content": "绿化覆盖率的目标是多少？"},
           {"role": "assistant", "content": "…2025年达到33.33%。[1]"}]
REFUSAL = {"question": "明天天气怎么样？", "answer": "《纲要》中没有提到这方面的内容。", "answerable": False,
           "citations": [], "sources": []}


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "var" / "feedback.sqlite3"


def test_vote_is_saved_with_question_history_answer_and_time(db_path):
    store = FeedbackStore(db_path)
    item_id = store.vote("c1", 1, "十三五的时候是多少？", HISTORY, ANSWER, "down")
    assert store.comment(item_id, "  想看的是目标值  ")
    [item] = FeedbackStore(db_path).items()  # a fresh store: as after a restart
    assert (item.question, item.history, item.answer, item.vote, item.comment) == (
        "十三五的时候是多少？", HISTORY, ANSWER, "down", "想看的是目标值")
    assert item.created_at.endswith("+00:00")


def test_database_uses_wal_and_commits_each_write(db_path):
    store = FeedbackStore(db_path)
    store.vote("c1", 0, "q", [], ANSWER, "up")
    # Another connection sees the row at once: nothing waits for a later commit.
    db = sqlite3.connect(db_path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT vote FROM feedback").fetchall() == [("up",)]


def test_changing_or_withdrawing_a_vote_keeps_one_row_per_answer(db_path):
    store = FeedbackStore(db_path)
    first = store.vote("c1", 0, "q", [], ANSWER, "up")
    assert store.vote("c1", 0, "q", [], ANSWER, "down") == first
    assert [i.vote for i in store.items()] == ["down"]
    store.vote("c1", 0, "q", [], ANSWER, None)
    assert [i.vote for i in store.items()] == [None]
    assert store.export_candidates() == []


def test_bad_vote_is_rejected(db_path):
    with pytest.raises(ValueError):
        FeedbackStore(db_path).vote("c1", 0, "q", [], ANSWER, "meh")


def test_export_has_the_eval_set_shape_for_down_votes_only(db_path):
    store = FeedbackStore(db_path)
    store.vote("c1", 0, "2025年高新技术企业要达到多少家？", [], {**ANSWER, "question": "x"}, "up")
    down = store.vote("c1", 1, "十三五的时候是多少？", HISTORY, ANSWER, "down")
    store.comment(down, "不对")
    store.vote("c2", 0, "明天天气怎么样？", [], REFUSAL, "down")
    candidates = store.export_candidates()
    assert [c["question"] for c in candidates] == ["十三五的时候是多少？", "明天天气怎么样？"]
    first = candidates[0]
    # CONTRACT §3 keys, with the facts and citations left for a person to fill in
    assert {k: first[k] for k in ("category", "history", "answerable", "expected_facts", "expected_citations")} == {
        "category": "feedback", "history": HISTORY, "answerable": True, "expected_facts": [], "expected_citations": []}
    assert first["id"] == f"feedback-{down:04d}"
    assert first["given_answer"] == ANSWER["answer"] and first["comment"] == "不对"
    assert first["given_citations"][0]["section"] == 1
    assert candidates[1]["given_answerable"] is False


def test_cli_export_writes_jsonl(db_path, tmp_path, capsys):
    store = FeedbackStore(db_path)
    store.vote("c1", 1, "十三五的时候是多少？", HISTORY, ANSWER, "down")
    out = tmp_path / "candidates.jsonl"
    assert cli(["feedback", "export", "--db", str(db_path), "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["question"] for line in lines] == ["十三五的时候是多少？"]
    assert cli(["feedback", "export", "--db", str(db_path)]) == 0
    assert json.loads(capsys.readouterr().out)["category"] == "feedback"
