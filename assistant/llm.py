"""Answers written by a chat model from the retrieved passages, held to them in code.

Off by default: ASSISTANT_LLM=openai (any OpenAI-compatible server) or ollama turns
it on (assistant/config.py). For one question:

    condense  a follow-up into a standalone question (prompts/condense.md; the
              rule-based rewrite of assistant/followup.py when the model fails)
    retrieve  with the engine's own retrieval, unchanged
    decide    the verdict (assistant/refusal.py): for a refused question the
              model is never called
    prompt    the numbered passages and the question (prompts/answer_*.md)
    model     ChatOpenAI or ChatOllama (LangChain), invoked or streamed
    check     markers, quotes and numbers against the passages (assistant/grounding.py)

The model steps are LCEL chains (prompt | model | parser). The engine runs the stages
(assistant/engine.py); this composer gets what they found and never calls back: `stream`
yields the model's text as it comes and then the checked Answer, which is what to show. When
the model fails (timeout, connection, error) or its answer does not pass the check,
the extractive answer stands in, with `fallback` saying why.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import replace

from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from assistant.chunks import Chunk
from assistant.compose import Found
from assistant.config import ROOT, Settings
from assistant.embeddings import ModelUnavailable
from assistant.grounding import Ungrounded, ground
from assistant.text import normalize
from assistant.types import Answer, Question

log = logging.getLogger(__name__)

PROMPTS = ROOT / "prompts"
BACKENDS = ("none", "openai", "ollama")
PASSAGES = 5  # the best hits, numbered [1]…[5] for the model
MAX_ANSWER_TOKENS = 600  # answers are a few sentences; a runaway generation is cut short
HISTORY_TURNS = 6  # the conversation the condense step sees
HISTORY_CHARS = 300  # per turn: earlier answers can be long
MAX_STANDALONE_CHARS = 200
STREAM_DEADLINE = 3  # × the timeout: a stream that still trickles after this is given up
_THINKING = re.compile(r"^\s*<think>.*?(?:</think>|$)", re.S)

class LLMUnavailable(ModelUnavailable):
    """The configured LLM backend cannot be set up (unknown name, model not named, no key)."""


def chat_model(settings: Settings) -> BaseChatModel | None:
    """The chat model the settings name, or None for the extractive answerer. Builds the
    client only: nothing is sent until a question is asked."""
    if settings.llm == "none":
        return None
    if settings.llm not in BACKENDS:
        raise LLMUnavailable(f"ASSISTANT_LLM={settings.llm!r}: expected one of {', '.join(BACKENDS)}")
    if not settings.llm_model:
        raise LLMUnavailable(f"ASSISTANT_LLM={settings.llm} needs ASSISTANT_LLM_MODEL (the model name the server knows)")
    if settings.llm == "openai":
        from langchain_openai import ChatOpenAI

        key = settings.openai_api_key
        if not key and not settings.openai_base_url:
            raise LLMUnavailable("ASSISTANT_LLM=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local server)")
        return ChatOpenAI(
            model=settings.llm_model,
            base_url=settings.openai_base_url,
            api_key=key or "unused",  # local OpenAI-compatible servers ignore the key
            timeout=settings.llm_timeout,
            max_retries=0,  # a retry doubles the wait; the extractive answer is the retry
            temperature=0,
            max_tokens=MAX_ANSWER_TOKENS,
        )
    from langchain_ollama import ChatOllama

    return ChatOllama(
        model=settings.llm_model,
        base_url=settings.ollama_host,
        temperature=0,
        num_predict=MAX_ANSWER_TOKENS,
        client_kwargs={"timeout": settings.llm_timeout},
    )


def load_prompt(name: str) -> str:
    return (PROMPTS / f"{name}.md").read_text(encoding="utf-8").strip()


class LLMComposer:
    """Write cited answers with a LangChain chat model. A peer of the extractive composer:
    it receives what the engine found and the extractive answer, which stands in whenever
    the model's answer cannot be used; the verdict (refusal.py) is decided before it runs."""

    def __init__(self, model: BaseChatModel, timeout: float = 20.0, passages: int = PASSAGES) -> None:
        self.model = model
        self.timeout = timeout
        self.passages = passages
        self.answer_prompt = ChatPromptTemplate.from_messages(
            [("system", load_prompt("answer_system")), ("human", load_prompt("answer_user"))])
        self.condense_prompt = ChatPromptTemplate.from_messages([("human", load_prompt("condense"))])
        self.answer_chain = self.answer_prompt | model | StrOutputParser()
        self.condense_chain = self.condense_prompt | model | StrOutputParser()

    def stream(self, question: Question, found: Found, extractive: Answer, failure: str | None = None,
               streaming: bool = True) -> Iterator[str | Answer]:
        """Text as the model writes it, then the checked Answer (always last, always once)."""
        if failure:  # the model is already known to be unreachable
            yield extractive.answer
            yield self._fallback(extractive, failure)
            return
        passages = [h.chunk for h in found.hits[:self.passages]]
        inputs = {"passages": format_passages(passages), "question": prompt_question(question.text, found.reading.text)}
        parts: list[str] = []
        try:
            if streaming:
                deadline = time.monotonic() + STREAM_DEADLINE * self.timeout
                for piece in self.answer_chain.stream(inputs):
                    parts.append(piece)
                    yield piece
                    if time.monotonic() > deadline:
                        raise TimeoutError("the stream did not finish in time")
            else:
                parts.append(self.answer_chain.invoke(inputs))
        except Exception as error:  # whatever the client raises, the extractive answer stands in
            yield self._fallback(extractive, self.describe(error))
            return
        try:
            grounded = ground(without_thinking("".join(parts)), passages)
        except Ungrounded as error:
            yield self._fallback(extractive, str(error))
            return
        yield replace(extractive, answer=grounded.text, citations=grounded.citations, backend="llm")

    def condense(self, question: Question) -> tuple[str | None, str | None]:
        """The question to retrieve with (None: the rule-based rewrite), and why the model
        cannot be reached (a timeout or connection error, so that the answer step does not
        wait for it again) or None."""
        turns = list(question.history)
        if not any(t.role == "user" for t in turns):
            return None, None
        history = "\n".join(f"{'用户' if t.role == 'user' else '助手'}：{normalize(t.content)[:HISTORY_CHARS]}"
                            for t in turns[-HISTORY_TURNS:])
        try:
            rewritten = self.condense_chain.invoke({"history": history, "question": question.text})
        except Exception as error:
            reason = self.describe(error)
            log.warning("condensing the follow-up failed (%s); using the rule-based rewrite", reason)
            unreachable = reason.startswith(("timeout", "connection"))
            return None, reason if unreachable else None
        return clean_standalone(without_thinking(rewritten)), None

    def describe(self, error: BaseException) -> str:
        """A short reason for Answer.fallback: timeout, connection error or model error."""
        chain = [error]
        while chain[-1].__cause__ or chain[-1].__context__:
            chain.append(chain[-1].__cause__ or chain[-1].__context__)
            if len(chain) > 10:
                break
        names = " ".join(type(e).__name__ for e in chain)
        if "Timeout" in names or any(isinstance(e, TimeoutError) for e in chain):
            return f"timeout: no answer from the model within {self.timeout:g} s"
        if "Connect" in names or any(isinstance(e, ConnectionError) for e in chain):
            return f"connection error: the model server cannot be reached ({_first_line(error)})"
        return f"model error: {type(error).__name__}: {_first_line(error)}"

    @staticmethod
    def _fallback(base: Answer, reason: str) -> Answer:
        log.warning("LLM answer replaced by the extractive one: %s", reason)
        return replace(base, fallback=reason)


def format_passages(passages: list[Chunk]) -> str:
    """The passages as the model sees them: number, where it sits, text. An indicator row
    reads as a sentence; its numbers are those of the row."""
    blocks = []
    for n, chunk in enumerate(passages, 1):
        body = chunk.rewritten_row if chunk.kind == "indicator" else chunk.text
        blocks.append(f"[{n}] {chunk.label}\n{body.strip()}")
    return "\n\n".join(blocks)


def prompt_question(text: str, standalone: str) -> str:
    if normalize(standalone) == text:
        return text
    return f"{text}\n（结合上文，这个问题是：{normalize(standalone)}）"


def clean_standalone(output: str) -> str | None:
    """The rewritten question from the model's reply, or None when it is not one line of
    reasonable length."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip() not in ("", "<<<", ">>>")]
    if not lines:
        return None
    line = lines[0]
    for label in ("改写后的问题：", "改写后的问题:", "完整问题：", "问题：", "Question:"):
        line = line.removeprefix(label).strip()
    line = normalize(line.strip("“”\"'「」<>"))
    return line if 0 < len(line) <= MAX_STANDALONE_CHARS else None


def without_thinking(text: str) -> str:
    """The reply without a reasoning model's <think>…</think> preamble (some servers keep it in the content)."""
    return _THINKING.sub("", text).strip()


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:160]
