"""Votes and comments from the chat page: a SQLite file by default, PostgreSQL for replicas.

One row per answer that got a vote: the question, the conversation before it, the
answer with its citations, the vote (up, down, or withdrawn), an optional comment
and when. Every write is its own committed transaction (SQLite in WAL mode with
synchronous=FULL; PostgreSQL's default synchronous commit), so a restart or a crash in
the middle of a request loses nothing already acknowledged.

Where it goes is one setting, `ASSISTANT_FEEDBACK_URL` (else `ASSISTANT_FEEDBACK_DB`, a
file path): a path or `sqlite:///path` for a file on this machine; `postgresql://user@host/db`
when several servers behind a load balancer must share one store. Both keep the same
table; a vote is one upsert on (conversation, turn), so two servers voting at once
cannot lose or duplicate a row.

Down-voted answers become candidates for the evaluation set (../shared/CONTRACT.md
§3): the question and history as asked, `expected_facts` and `expected_citations`
empty for a person to fill in, and what was answered, for context. `export_csv` writes
every vote for staff, with cells a spreadsheet would run as formulas neutralised.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

VOTES = ("up", "down")
MAX_COMMENT_CHARS = 2000

_COLUMNS = """
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
"""
_SCHEMA = {
    "sqlite": f"CREATE TABLE IF NOT EXISTS feedback (\n    id INTEGER PRIMARY KEY AUTOINCREMENT,{_COLUMNS})",
    "postgresql": f"CREATE TABLE IF NOT EXISTS feedback (\n    id BIGSERIAL PRIMARY KEY,{_COLUMNS})",
}
# One statement, so that two servers voting on the same answer at once still leave one row.
_UPSERT = """INSERT INTO feedback (conversation, turn, question, history, answer, answerable, citations,
                                   answer_json, vote, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (conversation, turn) DO UPDATE SET vote = excluded.vote, updated_at = excluded.updated_at
             RETURNING id"""
_FIELDS = ("id", "conversation", "turn", "question", "history", "answer_json", "vote", "comment",
           "created_at", "updated_at")
CSV_COLUMNS = ("id", "voted_at", "vote", "question", "answer", "answerable", "citations", "comment", "history",
               "conversation", "turn", "first_voted_at")
# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
# (tab and carriage return too, and the full-width forms a Chinese input method types).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


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


def _use_wal(db: sqlite3.Connection, attempts: int = 100) -> None:
    """Switch the database to write-ahead logging. Changing the journal mode does not wait
    for SQLite's busy timeout: two processes creating the same new database at once get
    "database is locked" here, so wait a moment and look again (the other may have done it)."""
    for _ in range(attempts):
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error):
                raise
            time.sleep(0.05)
    db.execute("PRAGMA journal_mode=WAL")  # the last try raises what SQLite says


class FeedbackStore:
    """The feedback database in a SQLite file at `path` (created with its folder when missing).

    `open_store(target)` picks SQLite or PostgreSQL from a path or URL; this class and
    PostgresFeedbackStore share everything but the connection.
    """

    dialect = "sqlite"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._new_connection()) as db:
            _use_wal(db)
            db.execute(_SCHEMA["sqlite"])

    def __str__(self) -> str:
        return str(self.path)

    def _new_connection(self) -> sqlite3.Connection:
        # A connection per call: Gradio runs handlers on worker threads.
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.execute("PRAGMA synchronous=FULL")
        return db

    @contextmanager
    def _transaction(self, write: bool = True) -> Iterator[Any]:
        """A cursor inside one transaction, committed when the block ends (rolled back on error)."""
        with closing(self._new_connection()) as db:
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield db.cursor()
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _sql(self, statement: str) -> str:
        return statement

    # -- the store ------------------------------------------------------------------

    def vote(self, conversation: str, turn: int, question: str, history: list[dict], answer: dict,
             vote: str | None) -> int:
        """Record (or change, or withdraw with None) the vote on one answer; returns its row id."""
        if vote is not None and vote not in VOTES:
            raise ValueError(f"vote must be one of {VOTES} or None, not {vote!r}")
        now = _now()
        with self._transaction() as cursor:
            cursor.execute(self._sql(_UPSERT), (
                conversation, turn, question, _json(history), answer.get("answer", ""),
                int(bool(answer.get("answerable", False))), _json(answer.get("citations", [])), _json(answer),
                vote, now, now))
            [row] = cursor.fetchall()  # all of it: SQLite commits only finished statements
        return int(row[0])

    def comment(self, item_id: int, text: str) -> bool:
        """Attach a comment to a voted answer; False when there is no such row."""
        with self._transaction() as cursor:
            cursor.execute(self._sql("UPDATE feedback SET comment = ?, updated_at = ? WHERE id = ?"),
                           (text.strip()[:MAX_COMMENT_CHARS], _now(), item_id))
            return cursor.rowcount == 1

    def items(self, vote: str | None = None) -> list[FeedbackItem]:
        """All rows in the order they were first voted on; only those with `vote` when given."""
        query, args = f"SELECT {', '.join(_FIELDS)} FROM feedback", ()
        if vote is not None:
            query, args = query + " WHERE vote = ?", (vote,)
        with self._transaction(write=False) as cursor:
            cursor.execute(self._sql(query + " ORDER BY id"), args)
            rows = cursor.fetchall()
        return [
            FeedbackItem(int(r[0]), r[1], int(r[2]), r[3], json.loads(r[4]), json.loads(r[5]), r[6], r[7], r[8], r[9])
            for r in rows
        ]

    def export_candidates(self) -> list[dict]:
        """Down-voted answers as evaluation-set lines (CONTRACT §3) for a person to complete.

        `answerable` is a first guess (true): a down-vote usually means the plan does
        answer the question and the page got it wrong or refused; the person checking
        may set it to false. `expected_facts` and `expected_citations` are left empty.
        """
        return [_candidate(item) for item in self.items(vote="down")]

    def export_csv(self, vote: str | None = None) -> str:
        """Every voted answer (or those with `vote`) as CSV for a spreadsheet, one row each,
        UTF-8 with a byte-order mark so that Excel reads the Chinese; formula cells neutralised."""
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for item in self.items(vote):
            if item.vote is None and vote is None:
                continue  # withdrawn
            answer = item.answer
            writer.writerow([safe_cell(value) for value in (
                item.id, item.updated_at, item.vote, item.question, answer.get("answer", ""),
                "yes" if answer.get("answerable") else "no",
                "; ".join(str(c.get("label", "")) for c in answer.get("citations", [])), item.comment,
                "\n".join(f"{t.get('role')}: {t.get('content')}" for t in item.history),
                item.conversation, item.turn, item.created_at)])
        return out.getvalue()


class PostgresFeedbackStore(FeedbackStore):
    """The same table in PostgreSQL (`postgresql://user:password@host:port/database`), shared by
    every server behind a load balancer. One connection per thread, reconnected when lost."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError as error:  # pragma: no cover — it is in requirements.txt
            raise RuntimeError("a postgresql:// feedback URL needs the package psycopg: "
                               "pip install 'psycopg[binary]'") from error
        self._psycopg = psycopg
        self.url = url
        self._local = threading.local()
        with self._transaction() as cursor:
            # Two servers starting at once may both try to create the table: one waits for the other.
            cursor.execute("SELECT pg_advisory_xact_lock(4242001)")
            cursor.execute(_SCHEMA["postgresql"])

    def __str__(self) -> str:
        return _redact(self.url)

    def _connection(self):
        db = getattr(self._local, "db", None)
        if db is None or db.closed or db.broken:
            db = self._local.db = self._psycopg.connect(self.url, connect_timeout=10, autocommit=True)
        return db

    @contextmanager
    def _transaction(self, write: bool = True) -> Iterator[Any]:
        db = self._connection()
        try:
            with db.transaction(), db.cursor() as cursor:  # BEGIN … COMMIT, or ROLLBACK on error
                yield cursor
        except self._psycopg.OperationalError:
            db.close()  # a lost connection: the next call opens a new one
            raise

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()


def open_store(target: str | Path) -> FeedbackStore:
    """The store at `target`: `postgresql://…` (or `postgres://…`), `sqlite:///path`, or a file path."""
    text = str(target)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresFeedbackStore(text)
    if text.startswith("sqlite:///"):  # as SQLAlchemy writes it: sqlite:///relative, sqlite:////absolute
        return FeedbackStore(text[len("sqlite:///"):])
    if "://" in text:
        raise ValueError(f"feedback URL must be postgresql://… or sqlite:///…, not {_redact(text)}")
    return FeedbackStore(text)


def store_target(settings) -> str:
    """Where the settings put feedback: ASSISTANT_FEEDBACK_URL, else the ASSISTANT_FEEDBACK_DB file."""
    return getattr(settings, "feedback_url", "") or str(settings.feedback_db)


def safe_cell(value) -> str:
    """The value as a CSV cell that a spreadsheet shows as text: one starting with = + - @ (or
    tab, carriage return, their full-width forms) gets a leading apostrophe, which Excel and
    LibreOffice hide and do not evaluate. Numbers we wrote ourselves (ids, turns) stay numbers."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


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


def _redact(url: str) -> str:
    """The URL without its password, for logs and messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}" if ":" in credentials else url


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
