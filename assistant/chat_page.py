"""The citizen chat tab: ask in Chinese or English, get cited answers, follow up, vote.

The page keeps the conversation in a per-browser gr.State and shows it through a
Chatbot in messages format whose content is HTML from assistant.chat_format, with
Markdown off: user text never becomes markup. The answer function is also a named
API endpoint, `ask`, for gradio_client.

What a session keeps is bounded, since anyone can call the handlers with anything: the
last MAX_EXCHANGES exchanges (what a follow-up can lean on), each question cut at the
question limit, and nothing once the session has been idle for an hour
(ASSISTANT_SESSION_IDLE_SECONDS: the conversation's gr.State lives that long, and app.py
drops the whole idle session).
Event data (votes, example clicks) is read defensively: a malformed event is ignored.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import gradio as gr

from assistant.chat_format import (PlanPassages, escape, format_answer, format_notice, format_pending, format_streaming,
                                   format_question)
from assistant.config import Settings
from assistant.engine import PlanAssistant
from assistant.feedback import FeedbackStore
from assistant.types import Answer, BadQuestion, Turn
from assistant.web_guard import ServerLimits

log = logging.getLogger(__name__)

TITLE = "规划问答"
EXAMPLES = [  # what citizens ask about; each one answered from the plan
    ("养老", "养老床位要达到多少？"),
    ("教育", "要新建哪些学校？"),
    ("医疗", "家庭医生签约有什么目标？"),
    ("交通", "停车难怎么解决？"),
    ("住房", "租赁住房要建多少？"),
    ("环境", "绿化覆盖率的目标是多少？"),
    ("就业", "就业方面有哪些措施？"),
    ("English", "How many high-tech companies by 2025?"),
]
TOO_LONG = "问题有点长（{length}字）。请把问题控制在{limit}字以内，再发一次。"
NOT_UNDERSTOOD = "没能读懂这个问题，请换个说法再试一次。"
SORRY = "抱歉，系统暂时出了点问题，请稍后再试。"
# The exchanges a conversation keeps: a follow-up leans on the last 20 turns (the engine's
# HISTORY_TURNS), i.e. 10 questions and answers. The page shows these 10.
MAX_EXCHANGES = 10
VOTE_PROMPT = {
    # No emoji: they show as boxes where no emoji font is installed (the thumbs are Gradio icons).
    "up": "**已记录：这个回答有用。** 谢谢！愿意的话，可以说说哪里有用（选填）。",
    "down": "**已记录：这个回答没帮上忙。** 哪里不对或缺了什么？写下来能帮我们改进（选填）。",
}

CSS = """
#pa-header h1 { font-size: 1.6rem; margin: 0.2rem 0; }
#pa-header p { margin: 0.2rem 0; color: var(--body-text-color-subdued); }
.pa-question { white-space: pre-wrap; word-break: break-word; }
.pa-answer-text { white-space: pre-wrap; line-height: 1.7; }
.pa-ref { color: var(--color-accent); font-weight: 600; margin: 0 1px; }
.pa-sources { margin-top: 0.6rem; border-top: 1px solid var(--border-color-primary); padding-top: 0.4rem; }
.pa-sources-title { font-size: 0.85em; color: var(--body-text-color-subdued); margin-bottom: 0.2rem; }
.pa-source { margin: 0.25rem 0; font-size: 0.92em; }
.pa-source > summary { cursor: pointer; color: var(--link-text-color, var(--color-accent)); }
.pa-ref-num { font-weight: 600; }
.pa-quote { margin: 0.4rem 0 0.4rem 0.2rem; padding: 0.3rem 0.7rem; border-left: 3px solid var(--color-accent);
            background: var(--background-fill-secondary); white-space: pre-wrap; }
.pa-fulltext { margin: 0.3rem 0 0.3rem 0.9rem; }
.pa-fulltext > summary { cursor: pointer; font-size: 0.9em; color: var(--body-text-color-subdued); }
.pa-section-title { font-weight: 600; margin: 0.4rem 0 0.2rem; }
.pa-section-text { white-space: pre-line; line-height: 1.7; max-height: 14rem; overflow-y: auto;
                   padding: 0.3rem 0.5rem; background: var(--background-fill-secondary); border-radius: 4px; }
.pa-section-text mark, .pa-hit td { background: #fff3a3; color: inherit; }
.pa-indicators { font-size: 0.85em; border-collapse: collapse; }
.pa-indicators td, .pa-indicators th { border: 1px solid var(--border-color-primary); padding: 2px 6px; }
.pa-note { font-size: 0.85em; color: var(--body-text-color-subdued); }
.pa-refusal { color: var(--body-text-color-subdued); }
.pa-refusal-text::before { content: "ⓘ "; }
.pa-hint { font-size: 0.88em; margin-top: 0.3rem; }
.pa-notice { color: #b45309; }
.pa-pending { color: var(--body-text-color-subdued); font-style: italic; }
#pa-chat .example { border: 1px solid var(--border-color-primary); border-radius: 8px; }
#pa-footnote { font-size: 0.85em; color: var(--body-text-color-subdued); }
"""
# Opening a source's full text scrolls its highlighted passage into view.
HEAD = """<script>
document.addEventListener("toggle", (event) => {
  const details = event.target;
  if (details instanceof HTMLDetailsElement && details.open && details.classList.contains("pa-fulltext")) {
    const mark = details.querySelector("mark, .pa-hit");
    if (mark) mark.scrollIntoView({block: "nearest"});
  }
}, true);
</script>"""


@dataclass
class Exchange:
    """One question and what the page showed for it."""

    question: str  # as asked, cut at the question limit (a longer one is never answered)
    answer: Answer | None = None
    html: str = ""  # the assistant message as shown; empty while pending
    number: int = 0  # its turn in the whole conversation, counting exchanges no longer kept


@dataclass
class Conversation:
    # The id is set at the first question: gr.State copies this object for every visitor.
    id: str = ""
    exchanges: list[Exchange] = field(default_factory=list)  # the last MAX_EXCHANGES
    asked: int = 0  # exchanges so far, kept or not

    def add(self, exchange: Exchange) -> Exchange:
        exchange.number = self.asked
        self.asked += 1
        self.exchanges.append(exchange)
        del self.exchanges[:-MAX_EXCHANGES]
        return exchange

    def history(self, before: int | None = None) -> list[Turn]:
        """The answered turns before exchange `before` (all by default), for follow-ups."""
        turns: list[Turn] = []
        for exchange in self.exchanges[:before]:
            if exchange.answer is not None:
                turns += [Turn("user", exchange.question), Turn("assistant", exchange.answer.answer)]
        return turns


class ChatPage:
    """The chat tab's components and handlers around one loaded PlanAssistant."""

    def __init__(self, assistant: PlanAssistant, store: FeedbackStore, settings: Settings | None = None) -> None:
        self.assistant = assistant
        self.store = store
        self.settings = settings or assistant.settings
        self.passages = PlanPassages(assistant.outline)
        self._lock = threading.Lock()  # one question at a time through the engine

    def ask(self, question: str, history: list[Turn]) -> Answer:
        with self._lock:
            return self.assistant.ask(question, history)

    def warm_up(self) -> None:
        """Answer one question so that the first visitor does not wait for lazy loading."""
        self.ask(EXAMPLES[0][1], [])

    # -- chat -------------------------------------------------------------

    def messages(self, conversation: Conversation) -> list[dict]:
        limit = self.settings.max_question_chars
        out = []
        for exchange in conversation.exchanges:
            out.append({"role": "user", "content": format_question(exchange.question, limit)})
            out.append({"role": "assistant", "content": exchange.html or format_pending()})
        return out

    def respond(self, question: str, conversation: Conversation):
        """Show the question at once, then the answer (a generator: two updates). The input
        box is emptied on every path: Gradio keeps its last value in the session."""
        if not isinstance(conversation, Conversation):
            conversation = Conversation()
        if not isinstance(question, str) or not question.strip():
            yield "", gr.update(), conversation, gr.update()
            return
        conversation.id = conversation.id or uuid.uuid4().hex
        history = conversation.history()
        limit = self.settings.max_question_chars
        exchange = conversation.add(Exchange(question[:limit + 1]))
        yield "", self.messages(conversation), conversation, gr.update(visible=False)
        if self.assistant.llm is None:
            exchange.answer, exchange.html = self._answer(question, history)
        else:  # an LLM writes the answer: show its tokens as they come
            for exchange.answer, exchange.html in self._stream(question, history):
                yield "", self.messages(conversation), conversation, gr.update()
        yield "", self.messages(conversation), conversation, gr.update()

    def _stream(self, question: str, history: list[Turn]) -> Iterator[tuple[Answer | None, str]]:
        """(None, partial text) while the LLM writes, then (answer, its HTML): the checked
        answer, or the extractive fallback, replaces the streamed text."""
        if len(question.strip()) > self.settings.max_question_chars:
            yield self._answer(question, history)
            return
        written = ""
        try:
            for part in self.assistant.stream(question, history):
                if isinstance(part, Answer):
                    yield part, format_answer(part, self.passages)
                    return
                written += part
                yield None, format_streaming(written)
        except BadQuestion:
            yield self._answer(question, history)
        except Exception:
            log.exception("streaming the answer to %r failed", question[:200])
            yield None, format_notice(SORRY)

    def _answer(self, question: str, history: list[Turn]) -> tuple[Answer | None, str]:
        limit = self.settings.max_question_chars
        if len(question.strip()) > limit:
            return None, format_notice(TOO_LONG.format(length=len(question.strip()), limit=limit))
        try:
            answer = self.ask(question, history)
        except BadQuestion as error:
            message = str(error)
            if "too long" in message:
                return None, format_notice(TOO_LONG.format(length=len(question.strip()), limit=limit))
            return None, format_notice(NOT_UNDERSTOOD)
        except Exception:
            log.exception("answering %r failed", question[:200])
            return None, format_notice(SORRY)
        try:
            return answer, format_answer(answer, self.passages)
        except Exception:
            log.exception("formatting the answer to %r failed", question[:200])
            return None, format_notice(SORRY)

    def respond_to_example(self, conversation: Conversation, event: gr.EventData):
        value = event_field(event, "value")
        text = value.get("text", "") if isinstance(value, dict) else value
        yield from self.respond(text if isinstance(text, str) else "", conversation)

    def clear(self):
        return Conversation(), [], gr.update(visible=False), None

    # -- feedback -----------------------------------------------------------

    def vote(self, conversation: Conversation, event: gr.EventData):
        """Save a 👍/👎 at once; then offer the optional comment box. The event is what
        gr.LikeData carries (index, liked), read without trusting it."""
        index = event_field(event, "index")
        index = index[0] if isinstance(index, (list, tuple)) and index else index
        liked = event_field(event, "liked")
        nothing = None, gr.update(visible=False), gr.update()
        if not isinstance(conversation, Conversation) or isinstance(index, bool) or not isinstance(index, int):
            return nothing
        position = index // 2
        if not 0 <= position < len(conversation.exchanges) or conversation.exchanges[position].answer is None:
            return nothing
        exchange = conversation.exchanges[position]
        vote = {True: "up", False: "down"}.get(liked) if isinstance(liked, bool) else None  # else withdrawn
        history = [{"role": t.role, "content": t.content} for t in conversation.history(position)]
        try:
            item_id = self.store.vote(conversation.id, exchange.number, exchange.question, history,
                                      exchange.answer.to_dict(), vote)
        except Exception:
            log.exception("saving a vote failed")
            gr.Warning("反馈没有保存成功，请稍后再试。", title="提示")
            return None, gr.update(visible=False), gr.update()
        if vote is None:
            return None, gr.update(visible=False), gr.update()
        return item_id, gr.update(visible=True), gr.update(value=VOTE_PROMPT[vote])

    def save_comment(self, text: str, item_id: int | None):
        if isinstance(item_id, int) and isinstance(text, str) and text.strip():
            try:
                self.store.comment(item_id, text)
                gr.Info("已收到您的意见，谢谢！", duration=4, title="提示")
            except Exception:
                log.exception("saving a comment failed")
                gr.Warning("意见没有保存成功，请稍后再试。", title="提示")
        return "", gr.update(visible=False), None

    # -- API ----------------------------------------------------------------
    # Errors for bad input reach the caller as one line (gr.Error) and are not logged with a
    # traceback (print_exception=False): expected input is no failure, and a client sending
    # bad requests must not flood the log. Unexpected failures are logged once, by log.exception.

    def api_ask(self, question: str, history: list[dict] | str | None = None) -> dict:
        """Answer `question` given the conversation so far (`history`: [{"role", "content"}],
        oldest first, or that list as a JSON string); returns the answer object of CONTRACT §1."""
        turns = parse_history(history)
        if not isinstance(question, str):
            raise gr.Error("question must be text / 问题必须是文字", print_exception=False)
        try:
            answer = self.ask(question, turns)
        except BadQuestion as error:
            raise gr.Error(f"bad question: {error}", print_exception=False) from None
        except Exception:
            log.exception("API answer to %r failed", str(question)[:200])
            raise gr.Error(SORRY, print_exception=False) from None
        return answer.to_dict()

    # -- layout -------------------------------------------------------------

    def render(self) -> None:
        """Lay out the chat tab inside the current gr.Blocks context and wire its events."""
        gr.HTML(
            f'<div id="pa-header"><h1>{TITLE}</h1>'
            f'<p>根据《{escape(plan_title(self.passages))}》原文回答您的问题，每个回答都注明出处，点开可看原文。</p></div>'
        )
        conversation = gr.State(Conversation(), time_to_live=ServerLimits.from_env().session_idle_seconds)
        feedback_id = gr.State(None)
        chatbot = gr.Chatbot(
            elem_id="pa-chat",
            label="对话",
            show_label=False,
            height="72vh",
            min_height=420,
            render_markdown=False,  # messages are HTML built with everything escaped
            sanitize_html=True,
            latex_delimiters=[],
            allow_tags=False,
            placeholder="您好！想了解长宁区“十四五”规划里的什么内容？可以点下面的例子，也可以直接输入问题（中文、English 都可以）。",
            examples=[{"text": q, "display_text": f"{topic} · {q}"} for topic, q in EXAMPLES],
            feedback_options=["Like", "Dislike"],
            buttons=[],  # no share (needs the internet) and no copy (would copy the HTML)
            autoscroll=True,
        )
        with gr.Group(visible=False, elem_id="pa-feedback") as feedback_box:
            feedback_prompt = gr.Markdown(VOTE_PROMPT["down"])
            with gr.Row():
                comment = gr.Textbox(label="意见", show_label=False, placeholder="例如：答案里的数字不对 / 没回答我问的 / 出处不相关",
                                     max_lines=4, scale=5, elem_id="pa-comment")
                send_comment = gr.Button("提交意见", scale=1, elem_id="pa-send-comment")
        with gr.Row(equal_height=True):
            question = gr.Textbox(label="问题", show_label=False, scale=8, lines=1, max_lines=5, autofocus=True, elem_id="pa-input",
                                  placeholder="请输入问题，例如：我家附近会新增养老床位吗？（按回车发送）")
            send = gr.Button("发送", variant="primary", scale=1, min_width=80, elem_id="pa-send")
        with gr.Row():
            clear = gr.Button("清空对话", size="sm", variant="secondary", scale=0, min_width=120, elem_id="pa-clear")
            gr.HTML('<div id="pa-footnote">回答只摘引《纲要》原文；规划里没有的内容会直接说明。</div>')

        outputs = [question, chatbot, conversation, feedback_box]
        for trigger in (question.submit, send.click):
            trigger(self.respond, [question, conversation], outputs, show_progress="hidden",
                    api_visibility="private")
        chatbot.example_select(self.respond_to_example, [conversation], outputs, show_progress="hidden",
                               api_visibility="private")
        chatbot.like(self.vote, [conversation], [feedback_id, feedback_box, feedback_prompt],
                     api_visibility="private")
        for trigger in (comment.submit, send_comment.click):
            trigger(self.save_comment, [comment, feedback_id], [comment, feedback_box, feedback_id],
                    api_visibility="private")
        for trigger in (clear.click, chatbot.clear):  # the button, and the chatbot's own trash icon
            trigger(self.clear, None, [conversation, chatbot, feedback_box, feedback_id], api_visibility="private")
        gr.api(self.api_ask, api_name="ask")


def event_field(event, name: str):
    """A field of an event's data (gr.EventData keeps it in `_data`), or None."""
    data = getattr(event, "_data", None)
    if isinstance(data, dict):
        return data.get(name)
    try:
        return getattr(event, name, None)
    except Exception:  # noqa: BLE001 — EventData.__getattr__ on data that is not a dict
        return None


def parse_history(history) -> list[Turn]:
    """[{"role": "user"|"assistant", "content": str}] (or its JSON text) as Turns; gr.Error if malformed."""
    if history is None or history == "":
        return []
    if isinstance(history, str):
        try:
            history = json.loads(history)
        except (json.JSONDecodeError, RecursionError):  # RecursionError: nested thousands deep
            raise gr.Error("history must be a JSON list of {role, content} / 对话历史格式不对",
                           print_exception=False) from None
    if not isinstance(history, list) or not all(
        isinstance(t, dict) and t.get("role") in ("user", "assistant") and isinstance(t.get("content"), str)
        for t in history
    ):
        raise gr.Error("history must be a list of {role: user|assistant, content: text} / 对话历史格式不对",
                       print_exception=False)
    return [Turn(t["role"], t["content"]) for t in history]


def plan_title(passages: PlanPassages) -> str:
    return "".join(passages.outline.title.split())
