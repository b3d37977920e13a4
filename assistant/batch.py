"""Batch mode (../shared/CONTRACT.md §2): many questions, one model load, input order kept."""

from __future__ import annotations

import json

from assistant.engine import PlanAssistant
from assistant.types import BadQuestion, Turn


class BatchError(ValueError):
    """A line of the input file cannot be read; the message names the line."""


def parse_line(number: int, line: str) -> tuple[str, str, list[Turn]]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as error:
        raise BatchError(f"line {number} is not JSON ({error.msg})") from None
    if not isinstance(item, dict) or not isinstance(item.get("question"), str):
        raise BatchError(f"line {number} has no \"question\" text")
    history = item.get("history") or []
    if not isinstance(history, list):
        raise BatchError(f"line {number}: \"history\" must be a list")
    # Which turns a follow-up may lean on is decided once, by the engine (question.py).
    turns = [Turn(turn["role"], turn["content"]) for turn in history
             if isinstance(turn, dict) and isinstance(turn.get("role"), str) and isinstance(turn.get("content"), str)]
    return str(item.get("id", number)), item["question"], turns


def run_batch(assistant: PlanAssistant, lines: list[str]) -> list[dict]:
    """Answers in input order. Every line is checked before any is answered, so a bad
    file fails fast; a bad question gets an error object in its place."""
    items = [parse_line(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    results = []
    for item_id, question, history in items:
        try:
            results.append({"id": item_id, **assistant.ask(question, history).to_dict()})
        except BadQuestion as error:
            results.append({"id": item_id, "question": question, "error": str(error)})
    return results
