"""The first stage: a question as typed (and the conversation so far) → a validated `Question`.

Light on purpose: it imports no model, tokenizer or index, so that bad input is rejected
at once, before anything slow loads. Markup pasted with a question (`<b>…</b>`, a
Markdown heading) is stripped before the language is judged, so it neither flips the
answer into English nor reaches retrieval.
"""

from __future__ import annotations

import html
import re

from assistant.text import is_english, normalize, printable
from assistant.types import BadQuestion, Question, Turn

HISTORY_TURNS = 20  # the most recent turns a follow-up may lean on (10 questions and answers)

_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<!--.*?-->", re.DOTALL)
# Markdown that dresses a question up: headings, emphasis, quotes, list bullets, code fences.
_MARKDOWN = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+)|\*\*|__|`{1,3}", re.MULTILINE)


def strip_markup(text: str) -> str:
    """The text without HTML tags (script and style bodies dropped), entities decoded, and
    without Markdown decoration; plain text comes back unchanged."""
    if "<" in text or "&" in text:
        text = _TAG.sub(" ", _SCRIPT.sub(" ", text))
        text = html.unescape(text)
    return _MARKDOWN.sub("", text)


def parse_question(raw: object, history: list[Turn] | None = None, max_chars: int = 500) -> Question:
    """The normalised question, or BadQuestion with a one-line reason (Chinese, then English)."""
    if not isinstance(raw, str):
        raise BadQuestion("问题必须是文字 (the question must be text)")
    too_long = BadQuestion(f"问题太长，最多{max_chars}个字 (the question is too long: at most {max_chars} characters)")
    if len(raw) > max_chars * 4:  # not worth normalising
        raise too_long
    text = normalize(strip_markup(raw))
    if not text:
        raise BadQuestion("问题是空的 (the question is empty)")
    if len(text) > max_chars:
        raise too_long
    return Question(raw=printable(raw), text=text, language="en" if is_english(text) else "zh",
                    history=usable_history(history, max_chars))


def usable_history(history: list[Turn] | None, max_chars: int) -> tuple[Turn, ...]:
    """The turns a follow-up may lean on: the last HISTORY_TURNS user and assistant turns
    with text, less user turns longer than a question may be (never answered, so no
    context). Anything longer made each request slow, and a long chain of follow-ups
    overflowed the recursion in standalone_question."""
    turns = [t for t in (history or []) if isinstance(t, Turn) and t.role in ("user", "assistant")
             and isinstance(t.content, str) and t.content.strip()]
    return tuple(t for t in turns[-HISTORY_TURNS:] if t.role != "user" or len(t.content.strip()) <= max_chars)
