"""The command line as outside evaluators use it (../shared/CONTRACT.md §1–2): real processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run(settings, assistant):
    """Run `python -m assistant …` against the session's test index (built by the fixture)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ASSISTANT_INDEX_DIR": str(settings.index_dir)}

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "assistant", *args], cwd=ROOT, env=env, input=stdin,
                              capture_output=True, text=True, timeout=180)

    return run


def test_ask_json_prints_exactly_one_contract_object(run):
    done = run("ask", "--json", "2025年高新技术企业要达到多少家？")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert set(answer) >= {"question", "answer", "answerable", "citations", "sources"}
    assert "600" in answer["answer"] and answer["answerable"] is True
    citation = answer["citations"][0]
    assert set(citation) >= {"chapter", "section", "indicator", "glossary", "label", "quote"}
    assert (citation["chapter"], citation["section"], citation["indicator"]) == (2, 4, 6)
    assert len(answer["sources"]) >= 5 and all("score" in s and "text" in s for s in answer["sources"])
    assert "\\u" not in done.stdout  # ensure_ascii=False


def test_unanswerable_question_exits_zero_with_no_citations(run):
    done = run("ask", "--json", "比特币明天会涨吗？")
    answer = json.loads(done.stdout)
    assert done.returncode == 0 and answer["answerable"] is False and answer["citations"] == []


@pytest.mark.parametrize("question", ["", "   ", "问" * 3000])
def test_bad_input_exits_2_with_one_line(run, question):
    done = run("ask", "--json", question)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("error: ")


def test_ask_text_lists_numbered_sources(run):
    done = run("ask", "新增养老床位多少张？")
    assert done.returncode == 0 and "[1]" in done.stdout and "第九章（六）" in done.stdout


def test_batch_keeps_order_and_uses_history(run, tmp_path):
    questions = tmp_path / "q.jsonl"
    rows = [
        {"id": "a", "question": "2025年高新技术企业要达到多少家？"},
        {"id": "b", "question": "十三五的时候是多少？",
         "history": [{"role": "user", "content": "绿化覆盖率的目标是多少？"},
                     {"role": "assistant", "content": "2025年达到33.33%。"}]},
        {"id": "c", "question": "明天天气怎么样？"},
        {"id": "d", "question": "   "},
    ]
    questions.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    out = tmp_path / "a.jsonl"
    done = run("batch", "--in", str(questions), "--out", str(out))
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [a["id"] for a in answers] == ["a", "b", "c", "d"]
    assert "600" in answers[0]["answer"] and "33.16%" in answers[1]["answer"]
    assert answers[2]["answerable"] is False and "error" in answers[3]


@pytest.mark.parametrize("content", [b'{"id": 1, "question": "x"}\nnot json\n', b'{"question": "\xff\xfe"}\n'])
def test_batch_rejects_a_bad_file_in_one_line(run, tmp_path, content):
    questions = tmp_path / "bad.jsonl"
    questions.write_bytes(content)
    done = run("batch", "--in", str(questions), "--out", str(tmp_path / "out.jsonl"))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.jsonl").exists()
