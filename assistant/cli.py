"""Command line: ask, batch, build, feedback export, commitments (../shared/CONTRACT.md §1–2).

The CLI only parses arguments and calls the library; stdout carries results, logs
and errors go to stderr. Bad input exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 3


class CliError(Exception):
    """A problem to report in one line, with its exit status."""

    def __init__(self, message: str, status: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.status = status


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(message)s")
    from assistant.faults import Fault  # standard library only: costs nothing to import

    try:
        return args.run(args)
    except (CliError, Fault) as error:  # a plan or index fault: one line, exit 4 or 5 (README)
        print(f"error: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m assistant", description="规划问答: cited answers from the plan")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True)

    ask = commands.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the answer as one JSON object")
    ask.add_argument("--explain", action="store_true", help="also print why (retrieval and refusal evidence)")
    ask.set_defaults(run=_ask)

    batch = commands.add_parser("batch", help="answer a JSONL file of questions")
    batch.add_argument("--in", dest="input", type=Path, required=True)
    batch.add_argument("--out", dest="output", type=Path, required=True)
    batch.set_defaults(run=_batch)

    build = commands.add_parser("build", help="rebuild the index")
    build.set_defaults(run=_build)

    chat = commands.add_parser("chat", help="ask questions in a terminal loop")
    chat.set_defaults(run=_chat)

    ledger = commands.add_parser("commitments", help="list the plan's commitments (targets and indicators)")
    ledger.add_argument("--grep", help="only records whose text contains this")
    ledger.add_argument("--chapter", type=int, help="only this chapter (1–11)")
    ledger.add_argument("--kind", choices=["indicator", "target", "qualitative", "achievement"])
    ledger.add_argument("--format", choices=["table", "csv", "json"], default="table")
    ledger.set_defaults(run=_commitments)

    feedback = commands.add_parser("feedback", help="votes from the chat page")
    feedback_commands = feedback.add_subparsers(dest="feedback_command", required=True)
    export = feedback_commands.add_parser(
        "export", help="down-voted answers as eval-set candidates (JSONL), or every vote as CSV for staff")
    export.add_argument("--db", help="feedback database: a file path, sqlite:///path or postgresql://… "
                                     "(default: $ASSISTANT_FEEDBACK_URL, else $ASSISTANT_FEEDBACK_DB, "
                                     "else var/feedback.sqlite3)")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl",
                        help="jsonl: eval-set candidates from down-votes (default); csv: every vote, one row "
                             "each, for a spreadsheet (cells starting with = + - @ are neutralised)")
    export.add_argument("--vote", choices=["up", "down"], help="csv: only these votes")
    export.add_argument("--out", type=Path, help="output file (default: stdout)")
    export.set_defaults(run=_feedback_export)
    return parser


def _commitments(args) -> int:
    from assistant.commitments import format_records, load_ledger

    records = load_ledger().filter(grep=args.grep, chapter=args.chapter, kind=args.kind)
    print(format_records(records, args.format))
    return 0


def _feedback_export(args) -> int:
    import csv
    import io

    from assistant.config import Settings
    from assistant.feedback import open_store, store_target

    try:
        store = open_store(args.db or store_target(Settings()))
    except Exception as error:  # a missing file's folder, a server that refuses: one line
        raise CliError(f"cannot open the feedback database: {str(error).strip().splitlines()[0]}",
                       EXIT_UNAVAILABLE) from None
    if args.format == "csv":
        text = store.export_csv(args.vote)
        count, what = sum(1 for _ in csv.reader(io.StringIO(text))) - 1, "votes"
    else:
        lines = store.export_candidates()
        text = "".join(json_line(line) + "\n" for line in lines)
        count, what = len(lines), "candidates"
    if args.out:
        args.out.write_text(text, encoding="utf-8", newline="")
        print(f"wrote {count} {what} to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _load():
    from assistant.config import Settings
    from assistant.outline import read_plan

    read_plan(Settings().plan_path)  # a plan fault is reported before the slow model load
    from assistant.jieba_cache import load_dictionary

    load_dictionary()  # before the engine's modules tokenize at import: half the time of jieba's own load
    from assistant.embeddings import ModelUnavailable
    from assistant.engine import PlanAssistant

    try:
        return PlanAssistant.load(progress=sys.stderr.isatty())
    except ModelUnavailable as error:
        raise CliError(str(error), EXIT_UNAVAILABLE) from None


def _ask(args) -> int:
    from assistant.config import Settings
    from assistant.question import parse_question
    from assistant.types import BadQuestion

    try:  # before anything slow loads: bad input is answered in a fraction of a second
        parse_question(args.question, [], Settings().max_question_chars)
    except BadQuestion as error:
        raise CliError(str(error)) from None
    assistant = _load()
    try:
        answer = assistant.ask(args.question)
    except BadQuestion as error:
        raise CliError(str(error)) from None
    if args.json:
        print(json_line(answer.to_dict()))
    else:
        print(render_text(answer))
    if args.explain:
        print(json.dumps(assistant.explain(args.question), ensure_ascii=False, indent=1), file=sys.stderr)
    return 0


def json_line(data: dict) -> str:
    """One JSON object on one line, UTF-8 as is (ensure_ascii=False), but with the
    characters that line-splitters treat as line breaks (U+0085, U+2028, U+2029) escaped."""
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("\u0085", "\\u0085").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render_text(answer) -> str:
    lines = [answer.answer]
    if answer.citations:
        lines.append("")
        lines += [f"[{n}] {c.label}\n    “{c.quote}”" for n, c in enumerate(answer.citations, 1)]
    lines.append("\n来源 (sources):" if answer.language == "zh" else "\nSources:")
    lines += [f"  {n}. {s.label}  (cos {s.score:.2f})" for n, s in enumerate(answer.sources[:5], 1)]
    return "\n".join(lines)


def _batch(args) -> int:
    from assistant.batch import BatchError, run_batch

    try:
        lines = args.input.read_bytes().decode("utf-8").splitlines()
    except OSError as error:
        raise CliError(f"cannot read {args.input}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise CliError(f"{args.input} is not UTF-8 (byte {error.start})") from None
    assistant = _load()
    try:
        results = run_batch(assistant, lines)
    except BatchError as error:
        raise CliError(str(error)) from None
    tmp = args.output.with_name(args.output.name + ".tmp")
    tmp.write_text("".join(json_line(r) + "\n" for r in results), encoding="utf-8")
    tmp.replace(args.output)
    return 0


def _build(args) -> int:
    from assistant.config import Settings
    from assistant.embeddings import ModelUnavailable, load_model
    from assistant.index import build_index
    from assistant.outline import read_plan
    from assistant.second_model import load_second_model

    settings = Settings()
    read_plan(settings.plan_path)  # plan faults before the slow model load
    try:
        model = load_model(settings.embedding_model, settings.threads)
        second = load_second_model(settings.sentence_model)
    except ModelUnavailable as error:
        raise CliError(str(error), EXIT_UNAVAILABLE) from None
    index = build_index(settings, model, progress=True, second=second)
    print(f"built {len(index.chunks)} chunks, {len(index.sentences)} sentences in "
          f"{index.manifest['build_seconds']} s → {settings.index_dir}", file=sys.stderr)
    return 0


def _chat(args) -> int:
    from assistant.types import BadQuestion, Turn

    assistant = _load()
    history: list[Turn] = []
    print("规划问答 — ask about the Changning 14th Five-Year Plan (empty line to quit)")
    while True:
        try:
            question = input("> ")
        except EOFError:
            return 0
        if not question.strip():
            return 0
        try:
            answer = assistant.ask(question, history)
        except BadQuestion as error:
            print(f"error: {error}")
            continue
        print(render_text(answer) + "\n")
        history += [Turn("user", question), Turn("assistant", answer.answer)]
