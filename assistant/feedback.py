"""Votes and comments from the chat page, kept in a SQLite file.

One row per answer that got a vote: the question, the conversation before it, the
answer with its citations, the vote (up, down, or withdrawn), an optional comment
and when. Every write is its own committed transaction in WAL mode, so a restart or
a crash in the middle of a request loses nothing already acknowledged.

Down-voted answers become candidates for the evaluation set (../shared/CONTRACT.md
§3): the question and history as asked, `expected_facts` and `expected_citations`
empty for a person to fill in, and what was answered, for context.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

VOTES = ("up", "down")
MAX_COMMENT_CHARS = 2000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation TEXT NOT NULL,           -- one chat page conversation
    turn INTEGER NOT NULL,                -- 0 for its first question
    question TEXT NOT NULL,
    history TEXT NOT NULL,                -- JSON [{"role", "content"}], the turns before
    answer TEXT NOT NULL,                 -- the answer text shown
    answerable INTEGER NOT NULL,          -- 0 when the answer was a refusal
    citations TEXT NOT NULL,              -- JSON, as in the answer
    answer_json TEXT NOT NULL,            -- the whole answer object (CONTRACT §1)
    vote TEXT CHECK (vote IN ('up', 'down')),  -- NULL once a vote is withdrawn
    comment TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,             -- ISO 8601, UTC
    updated_at TEXT NOT NULL,
    UNIQUE (conversation, turn)
)
"""


@dataclass
class FeedbackItem:
    id: int
    conversation: str
    turn: int
    question: str
    history: list[dict]
    answer: dict
    vote: str | None
    comment: str
    created_at: str
    updated_at: str


class FeedbackStore:
    """The feedback database at `path` (created with its folder when missing)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    def _connect(self) -> closing[sqlite3.Connection]:
        # A connection per call: Gradio runs handlers on worker threads.
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.execute("PRAGMA synchronous=FULL")
        db.row_factory = sqlite3.Row
        return closing(db)

    def vote(self, conversation: str, turn: int, question: str, history: list[dict], answer: dict,
             vote: str | None) -> int:
        """Record (or change, or withdraw with None) the vote on one answer; returns its row id."""
        if vote is not None and vote not in VOTES:
            raise ValueError(f"vote must be one of {VOTES} or None, not {vote!r}")
        now = _now()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                """INSERT INTO feedback (conversation, turn, question, history, answer, answerable, citations,
                                         answer_json, vote, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (conversation, turn) DO UPDATE SET vote = excluded.vote, updated_at = excluded.updated_at""",
                (conversation, turn, question, _json(history), answer.get("answer", ""),
                 int(bool(answer.get("answerable", False))), _json(answer.get("citations", [])), _json(answer),
                 vote, now, now),
            )
            row = db.execute("SELECT id FROM feedback WHERE conversation = ? AND turn = ?", (conversation, turn)).fetchone()
            db.execute("COMMIT")
        return int(row["id"])

    def comment(self, item_id: int, text: str) -> bool:
        """Attach a comment to a voted answer; False when there is no such row."""
        with self._connect() as db:
            cursor = db.execute("UPDATE feedback SET comment = ?, updated_at = ? WHERE id = ?",
                                (text.strip()[:MAX_COMMENT_CHARS], _now(), item_id))
        return cursor.rowcount == 1

    def items(self, vote: str | None = None) -> list[FeedbackItem]:
        """All rows in the order they were first voted on; only those with `vote` when given."""
        query, args = "SELECT * FROM feedback", ()
        if vote is not None:
            query, args = query + " WHERE vote = ?", (vote,)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY id", args).fetchall()
        return [
            FeedbackItem(r["id"], r["conversation"], r["turn"], r["question"], json.loads(r["history"]),
                         json.loads(r["answer_json"]), r["vote"], r["comment"], r["created_at"], r["updated_at"])
            for r in rows
        ]

    def export_candidates(self) -> list[dict]:
        """Down-voted answers as evaluation-set lines (CONTRACT §3) for a person to complete.

        `answerable` is a first guess (true): a down-vote usually means the plan does
        answer the question and the page got it wrong or refused; the person checking
        may set it to false. `expected_facts` and `expected_citations` are left empty.
        """
        return [_candidate(item) for item in self.items(vote="down")]


def _candidate(item: FeedbackItem) -> dict:
    answer = item.answer
    return {
        "id": f"feedback-{item.id:04d}",
        "category": "feedback",
        "question": item.question,
        "history": item.history,
        "answerable": True,
        "expected_facts": [],
        "expected_citations": [],
        "given_answer": answer.get("answer", ""),
        "given_answerable": bool(answer.get("answerable", False)),
        "given_citations": [
            {k: c.get(k) for k in ("chapter", "section", "indicator", "glossary", "label")}
            for c in answer.get("citations", [])
        ],
        "comment": item.comment,
        "voted_at": item.updated_at,
    }


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
