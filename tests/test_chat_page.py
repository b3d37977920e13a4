"""The chat page's handlers, with a stand-in engine: no model, no browser."""

from __future__ import annotations

import gradio as gr
import pytest

from assistant.types import Answer, Citation
from assistant.chat_page import SORRY, ChatPage, Conversation, parse_history
from assistant.config import Settings
from assistant.types import BadQuestion
from assistant.feedback import FeedbackStore
from assistant.outline import parse_outline, read_plan

CITATION = Citation(2, 4, 12, None, "第二章（四）主要指标 · 指标12 绿化覆盖率", "绿化覆盖率\t%\t2025年达到33.33%")


class FakeAssistant:
    """Answers everything with the greening indicator; records what it was asked."""

    llm = None  # the extractive path

    def __init__(self, settings: Settings, error: Exception | None = None) -> None:
        self.settings = settings
        self.outline = parse_outline(read_plan(settings.plan_path))  # the real plan, as the engine holds it
        self.error = error
        self.calls: list[tuple[str, list]] = []

    def ask(self, question, history=None):
        self.calls.append((question, list(history or [])))
        if self.error:
            raise self.error
        if not question.strip():
            raise BadQuestion("the question is empty")
        return Answer(question, "绿化覆盖率（%）：2025年达到33.33%。[1]", True, [CITATION])


class Like:
    """What gr.LikeData carries: the message index and liked (True, False, or "" when withdrawn)."""

    def __init__(self, index, liked) -> None:
        self.index, self.liked = index, liked


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(feedback_db=tmp_path / "feedback.sqlite3", max_question_chars=50)


def page_with(settings: Settings, error: Exception | None = None) -> ChatPage:
    return ChatPage(FakeAssistant(settings, error), FeedbackStore(settings.feedback_db), settings)


def ask(page: ChatPage, conversation: Conversation, question: str) -> list[tuple]:
    return list(page.respond(question, conversation))


def test_question_shows_at_once_then_the_answer(settings):
    page, conversation = page_with(settings), Conversation()
    (box1, shown, _, _), (box2, final, _, _) = ask(page, conversation, "绿化覆盖率的目标是多少？")
    assert box1 == box2 == ""
    assert "pa-pending" in shown[1]["content"]
    assert [m["role"] for m in final] == ["user", "assistant"]
    assert "33.33%" in final[1]["content"] and "pa-source" in final[1]["content"]


def test_follow_up_gets_the_earlier_turns(settings):
    page, conversation = page_with(settings), Conversation()
    ask(page, conversation, "绿化覆盖率的目标是多少？")
    ask(page, conversation, "十三五的时候是多少？")
    question, history = page.assistant.calls[-1]
    assert question == "十三五的时候是多少？"
    assert [(t.role, t.content) for t in history] == [
        ("user", "绿化覆盖率的目标是多少？"), ("assistant", "绿化覆盖率（%）：2025年达到33.33%。[1]")]


def test_too_long_question_gets_a_friendly_message_and_no_engine_call(settings):
    page, conversation = page_with(settings), Conversation()
    final = ask(page, conversation, "长" * 51)[-1][1]
    assert "问题有点长（51字）" in final[1]["content"] and "50字以内" in final[1]["content"]
    assert page.assistant.calls == []


def test_blank_question_changes_nothing(settings):
    page, conversation = page_with(settings), Conversation()
    assert len(ask(page, conversation, "   ")) == 1
    assert conversation.exchanges == []


def test_engine_failure_shows_a_friendly_message_not_a_traceback(settings):
    page, conversation = page_with(settings, error=RuntimeError("index exploded")), Conversation()
    content = ask(page, conversation, "绿化覆盖率的目标是多少？")[-1][1][1]["content"]
    assert SORRY in content and "exploded" not in content and "Traceback" not in content
    # The page carries on, and the failed turn is not used as history.
    page.assistant.error = None
    ask(page, conversation, "十三五的时候是多少？")
    assert page.assistant.calls[-1][1] == []


def test_vote_is_saved_with_the_turns_before_it(settings):
    page, conversation = page_with(settings), Conversation()
    ask(page, conversation, "绿化覆盖率的目标是多少？")
    ask(page, conversation, "十三五的时候是多少？")
    item_id, box, _ = page.vote(conversation, Like(3, False))
    assert box["visible"] is True
    page.save_comment("想看十三五的数", item_id)
    [item] = page.store.items()
    assert (item.question, item.vote, item.comment, item.turn) == ("十三五的时候是多少？", "down", "想看十三五的数", 1)
    assert [t["content"] for t in item.history] == ["绿化覆盖率的目标是多少？", "绿化覆盖率（%）：2025年达到33.33%。[1]"]
    assert item.answer["citations"][0]["indicator"] == 12


def test_withdrawn_vote_and_votes_on_notices(settings):
    page, conversation = page_with(settings), Conversation()
    ask(page, conversation, "绿化覆盖率的目标是多少？")
    ask(page, conversation, "长" * 60)
    page.vote(conversation, Like(1, True))
    item_id, box, _ = page.vote(conversation, Like(1, ""))
    assert item_id is None and box["visible"] is False
    assert page.vote(conversation, Like(3, False))[0] is None  # the "too long" notice: nothing to rate
    assert [i.vote for i in page.store.items()] == [None]


def test_clear_starts_a_new_conversation(settings):
    page, conversation = page_with(settings), Conversation()
    ask(page, conversation, "绿化覆盖率的目标是多少？")
    fresh, messages, _, _ = page.clear()
    assert fresh.exchanges == [] and fresh.id == "" and messages == []
    ask(page, fresh, "下一个问题")
    assert fresh.id and fresh.id != conversation.id


def test_api_returns_the_contract_answer(settings):
    page = page_with(settings)
    result = page.api_ask("十三五的时候是多少？", '[{"role": "user", "content": "绿化覆盖率的目标是多少？"}]')
    assert set(result) >= {"question", "answer", "answerable", "citations", "sources"}
    assert page.assistant.calls[-1][1][0].content == "绿化覆盖率的目标是多少？"


@pytest.mark.parametrize("history", ["not json", 5, [{"role": "system", "content": "x"}], [{"role": "user"}]])
def test_api_rejects_malformed_history(history):
    with pytest.raises(gr.Error):
        parse_history(history)


def test_api_turns_bad_questions_and_failures_into_errors(settings):
    with pytest.raises(gr.Error, match="empty"):
        page_with(settings).api_ask("  ")
    with pytest.raises(gr.Error) as failure:
        page_with(settings, error=RuntimeError("secret detail")).api_ask("绿化？")
    assert "secret" not in str(failure.value)


class FakeStreamingAssistant(FakeAssistant):
    """As if an LLM backend were configured: text chunks, then the checked answer."""

    llm = object()

    def stream(self, question, history=None):
        yield "绿化覆盖率"
        yield "2025年达到"
        yield self.ask(question, history)


def test_llm_answers_stream_then_the_checked_answer_replaces_them(settings):
    page = ChatPage(FakeStreamingAssistant(settings), FeedbackStore(settings.feedback_db), settings)
    updates = ask(page, Conversation(), "绿化覆盖率的目标是多少？")
    shown = [u[1][1]["content"] for u in updates]
    assert "pa-pending" in shown[0]
    assert any("绿化覆盖率2025年达到" in html and "pa-source" not in html for html in shown[1:-1])
    assert "33.33%" in shown[-1] and "pa-source" in shown[-1]


def test_streamed_text_is_escaped(settings):
    class Hostile(FakeStreamingAssistant):
        def stream(self, question, history=None):
            yield "<img src=x onerror=alert(1)>"
            yield self.ask(question, history)

    page = ChatPage(Hostile(settings), FeedbackStore(settings.feedback_db), settings)
    shown = [u[1][1]["content"] for u in ask(page, Conversation(), "问题")]
    assert all("<img" not in html for html in shown)
