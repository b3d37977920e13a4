"""The feedback store chosen by URL: SQLite by default, PostgreSQL for replicas (a real server,
started here). Two processes configured like two servers behind a load balancer vote at
once, on their own answers and on the same ones: every vote is kept, one row per answer.
And the CSV export for staff, with formula cells neutralised."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.cli import main as cli
from assistant.feedback import FeedbackStore, PostgresFeedbackStore, open_store, safe_cell
from tests.postgres import start_postgres
from tests.server import ROOT

ANSWER = {"question": "q", "answer": "绿化覆盖率2025年达到33.33%。[1]", "answerable": True,
          "citations": [{"chapter": 2, "section": 4, "indicator": 20, "glossary": None,
                         "label": "第二章（四）主要指标 · 指标20", "quote": "33.33%"}], "sources": []}
THREADS, VOTES = 4, 15  # per process: 60 answers of its own, and 15 shared with the other process

# One server process's writes, configured only by its environment, as app.py is
# (ASSISTANT_FEEDBACK_URL, read by Settings; open_store(store_target(settings)) as in app.py).
VOTER = f"""
import json, sys, threading, time
from pathlib import Path
from assistant.config import Settings
from assistant.feedback import open_store, store_target

name, go = sys.argv[1], Path(sys.argv[2])
answer = json.loads(sys.argv[3])
store = open_store(store_target(Settings()))
print("ready", flush=True)
while not go.exists():
    time.sleep(0.01)

def voter(thread):
    for i in range({VOTES}):
        conversation = f"{{name}}-{{thread}}-{{i}}"
        item = store.vote(conversation, 0, f"问题 {{conversation}}", [], answer, "down")
        assert store.vote(conversation, 0, f"问题 {{conversation}}", [], answer, "up") == item  # changed: same row
        assert store.comment(item, f"意见 {{conversation}}")
        if thread == 0:  # both processes vote on the same shared answers at the same moment
            store.vote("shared", i, "共同的问题", [], answer, "down")

threads = [threading.Thread(target=voter, args=(t,)) for t in range({THREADS})]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("done", flush=True)
"""


def vote_from_two_processes(env: dict[str, str], tmp_path: Path) -> None:
    go = tmp_path / "go"
    processes = [subprocess.Popen([sys.executable, "-c", VOTER, name, str(go), json.dumps(ANSWER)], cwd=ROOT,
                                  env={**os.environ, **env}, stdout=subprocess.PIPE, text=True)
                 for name in ("server-a", "server-b")]
    try:
        for process in processes:
            assert process.stdout.readline().strip() == "ready"
        go.touch()  # both start voting at once
        for process in processes:
            out, _ = process.communicate(timeout=60)
            assert process.returncode == 0 and out.strip() == "done"
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()


def assert_every_vote_kept(store: FeedbackStore) -> None:
    items = store.items()
    own = [i for i in items if i.conversation != "shared"]
    assert len(own) == 2 * THREADS * VOTES
    assert {i.conversation for i in own} == {f"{name}-{t}-{i}" for name in ("server-a", "server-b")
                                              for t in range(THREADS) for i in range(VOTES)}
    assert all(i.vote == "up" and i.comment == f"意见 {i.conversation}" for i in own)
    assert all(i.answer == ANSWER for i in own)
    shared = [i for i in items if i.conversation == "shared"]
    assert sorted(i.turn for i in shared) == list(range(VOTES))  # voted on twice each, one row each
    assert len({i.id for i in items}) == len(items)


@pytest.fixture(scope="module")
def postgres():
    server = start_postgres()
    yield server
    server.stop()


def test_postgresql_store_keeps_every_vote_from_two_servers_at_once(postgres, tmp_path):
    url = postgres.url + "?application_name=plan-qa-test"
    vote_from_two_processes({"ASSISTANT_FEEDBACK_URL": url}, tmp_path)
    store = open_store(postgres.url)
    assert isinstance(store, PostgresFeedbackStore)
    assert_every_vote_kept(store)
    # The CLI exports from PostgreSQL too.
    out = tmp_path / "votes.csv"
    assert cli(["feedback", "export", "--db", postgres.url, "--format", "csv", "--out", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 2 * THREADS * VOTES + VOTES
    store.close()


def test_postgresql_store_behaves_like_the_sqlite_one(postgres, tmp_path):
    sqlite, pg = FeedbackStore(tmp_path / "f.sqlite3"), open_store(postgres.url)
    for store in (sqlite, pg):
        conversation = f"same-{store.dialect}"
        first = store.vote(conversation, 0, "十三五的时候是多少？", [{"role": "user", "content": "绿化？"}], ANSWER, "down")
        assert store.vote(conversation, 0, "十三五的时候是多少？", [], ANSWER, None) == first  # withdrawn
        assert store.comment(first, "  想看目标值  ") and not store.comment(10**9, "no such row")
        with pytest.raises(ValueError):
            store.vote(conversation, 1, "q", [], ANSWER, "meh")
    [a] = sqlite.items()
    [b] = [i for i in pg.items() if i.conversation == "same-postgresql"]
    assert (a.question, a.history, a.answer, a.vote, a.comment, a.turn) == (
        b.question, b.history, b.answer, b.vote, b.comment, b.turn)
    assert (a.vote, a.comment, a.history) == (None, "想看目标值", [{"role": "user", "content": "绿化？"}])
    pg.close()


def test_sqlite_store_keeps_every_vote_from_two_processes_at_once(tmp_path):
    db = tmp_path / "feedback.sqlite3"
    vote_from_two_processes({"ASSISTANT_FEEDBACK_URL": "", "ASSISTANT_FEEDBACK_DB": str(db)}, tmp_path)
    assert_every_vote_kept(FeedbackStore(db))


def test_store_is_chosen_by_url(tmp_path):
    assert type(open_store(tmp_path / "a.sqlite3")) is FeedbackStore
    assert open_store(f"sqlite:///{tmp_path}/b.sqlite3").path == tmp_path / "b.sqlite3"
    with pytest.raises(ValueError, match="postgresql://"):
        open_store("mysql://user:secret@host/db")
    with pytest.raises(Exception) as refused:  # nothing listens there: fails fast, password not shown
        started = time.monotonic()
        open_store("postgresql://user:secret@127.0.0.1:9/db")
    assert time.monotonic() - started < 15 and "secret" not in str(refused.value)


@pytest.mark.parametrize("text", ["=1+1", "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "＝1+1",
                                  '=HYPERLINK("http://x","点我")', "=cmd|' /C calc'!A0"])
def test_formula_cells_are_neutralised(text):
    assert safe_cell(text) == "'" + text


def test_csv_export_for_staff(tmp_path, capsys):
    db = tmp_path / "feedback.sqlite3"
    store = FeedbackStore(db)
    hostile = {**ANSWER, "answer": "=1+1 答案", "citations": [{**ANSWER["citations"][0], "label": "@label"}]}
    item = store.vote("c1", 0, '=HYPERLINK("http://x","点我")', [{"role": "user", "content": "-1"}], hostile, "down")
    store.comment(item, "+恶意, \"引号\"\n第二行")
    store.vote("c2", 0, "绿化覆盖率的目标是多少？", [], ANSWER, "up")
    store.vote("c3", 0, "撤回的", [], ANSWER, None)
    assert cli(["feedback", "export", "--db", str(db), "--format", "csv"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("\ufeff")  # Excel reads it as UTF-8
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [r["vote"] for r in rows] == ["down", "up"]  # a withdrawn vote is not a vote
    first = rows[0]
    assert first["question"] == '\'=HYPERLINK("http://x","点我")' and first["answer"] == "'=1+1 答案"
    assert first["comment"] == "'+恶意, \"引号\"\n第二行" and first["citations"] == "'@label"
    assert first["answerable"] == "yes" and first["id"] == str(item)
    for row in rows:
        assert not any(value.startswith(("=", "+", "-", "@")) for value in row.values())
    assert cli(["feedback", "export", "--db", str(db), "--format", "csv", "--vote", "up"]) == 0
    assert [r["vote"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff")))] == ["up"]
