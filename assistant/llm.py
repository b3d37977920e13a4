"""Answers written by a chat model from the retrieved passages, held to them in code.

Off by default: ASSISTANT_LLM=openai (any OpenAI-compatible server) or ollama turns
it on (assistant/config.py). For one question:

    condense  a follow-up into a standalone question (prompts/condense.md; the
              rule-based rewrite of assistant/followup.py when the model fails)
    retrieve  with the engine's own retrieval, unchanged
    decide    the verdict (assistant/refusal.py): for a refused question the
              model is never called
    prompt    the numbered passages and the question (prompts/answer_*.md)
    model     ChatOpenAI or ChatOllama (LangChain), invoked or streamed, temperature 0
              and a fixed seed
    check     each sentence's marker, numbers and named things against the passage it
              cites; failing sentences dropped, quotes that hold the fact (grounding.py)

The model steps are LCEL chains (prompt | model). The engine runs the stages
(assistant/engine.py); this composer gets what they found and never calls back: `stream`
yields the model's text as it comes and then the checked Answer, which is what to show.

ASSISTANT_LLM_TIMEOUT is one deadline for the model's part of an answer: condensing, the
wait for a free request slot (at most `concurrency` requests at a time) and the answer,
streamed or not. Each call runs in a worker thread; when the deadline passes the answer
comes at once and the worker closes the request, so the server stops generating.

Outcomes, in the answer's `backend` and `fallback`: the model's grounded answer
(backend "llm"); the model's refusal, honoured and in the question's language (backend
"llm", answerable false); or, when the model fails (timeout, busy, connection, error) or no
sentence of its answer passes the check, the extractive answer, with `fallback` saying why.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

from langchain_core.language_models import BaseChatModel
from langchain_core.prompts import ChatPromptTemplate

from assistant.chunks import Chunk
from assistant.compose import Found
from assistant.config import ROOT, Settings
from assistant.embeddings import ModelUnavailable
from assistant.grounding import Ungrounded, ground, refuses
from assistant.refusal import REFUSAL_EN, REFUSAL_ZH
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
SEED = 0  # with temperature 0: the same question, the same answer, where the back end supports it
MAX_REQUESTS = 1  # model requests at a time: a small local server answers one faster than several
MIN_REQUEST_SHARE = 0.25  # of the timeout: less time left than this, and no model request is sent
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
            seed=SEED,
            max_tokens=MAX_ANSWER_TOKENS,
        )
    from langchain_ollama import ChatOllama

    return ChatOllama(
        model=settings.llm_model,
        base_url=settings.ollama_host,
        temperature=0,
        seed=SEED,
        num_predict=MAX_ANSWER_TOKENS,
        client_kwargs={"timeout": settings.llm_timeout},
    )


def load_prompt(name: str) -> str:
    return (PROMPTS / f"{name}.md").read_text(encoding="utf-8").strip()


class LLMComposer:
    """Write cited answers with a LangChain chat model. A peer of the extractive composer:
    it receives what the engine found and the extractive answer, which stands in whenever
    the model's answer cannot be used; the verdict (refusal.py) is decided before it runs."""

    def __init__(self, model: BaseChatModel, timeout: float = 20.0, passages: int = PASSAGES,
                 concurrency: int = MAX_REQUESTS) -> None:
        self.model = model
        self.timeout = timeout
        self.passages = passages
        self.concurrency = concurrency
        self.answer_prompt = ChatPromptTemplate.from_messages(
            [("system", load_prompt("answer_system")), ("human", load_prompt("answer_user"))])
        self.condense_prompt = ChatPromptTemplate.from_messages([("human", load_prompt("condense"))])
        self._slots = threading.BoundedSemaphore(concurrency)
        # When the model's part of each question began (condense), for stream to go on from.
        self._begun: dict[int, tuple[Question, float]] = {}
        self._lock = threading.Lock()
        self.sentences_dropped = 0  # by grounding, over all answers so far (python -m eval --llm reports it)

    def stream(self, question: Question, found: Found, extractive: Answer, failure: str | None = None,
               streaming: bool = True) -> Iterator[str | Answer]:
        """Text as the model writes it, then the checked Answer (always last, always once)."""
        deadline = self._deadline(question)
        if failure:  # the model is already known to be unreachable
            yield extractive.answer
            yield self._fallback(extractive, failure)
            return
        passages = [h.chunk for h in found.hits[:self.passages]]
        inputs = {"passages": format_passages(passages), "question": prompt_question(question.text, found.reading.text)}
        parts: list[str] = []
        try:
            for piece in self._reply(self.answer_prompt, inputs, deadline, streaming):
                parts.append(piece)
                if streaming:
                    yield piece
        except Exception as error:  # whatever the client raises, the extractive answer stands in
            yield self._fallback(extractive, self.describe(error))
            return
        text = without_thinking("".join(parts))
        if refuses(text, len(passages)):
            yield self._refusal(question, extractive)
            return
        try:
            grounded = ground(text, passages)
        except Ungrounded as error:
            yield self._fallback(extractive, str(error))
            return
        for dropped in grounded.dropped:
            log.info("sentence dropped from the LLM answer (%s): %s", dropped.reason, dropped.sentence)
        with self._lock:
            self.sentences_dropped += len(grounded.dropped)
        yield replace(extractive, answer=grounded.text, citations=grounded.citations, backend="llm",
                      dropped=[f"{d.reason}: {d.sentence}" for d in grounded.dropped])

    def condense(self, question: Question) -> tuple[str | None, str | None]:
        """The question to retrieve with (None: the rule-based rewrite), and why the model
        cannot be reached (a timeout or connection error, so that the answer step does not
        wait for it again) or None. The question's deadline starts here."""
        deadline = self._begin(question)
        turns = list(question.history)
        if not any(t.role == "user" for t in turns):
            return None, None
        history = "\n".join(f"{'用户' if t.role == 'user' else '助手'}：{normalize(t.content)[:HISTORY_CHARS]}"
                            for t in turns[-HISTORY_TURNS:])
        try:
            rewritten = "".join(self._reply(self.condense_prompt, {"history": history, "question": question.text},
                                            deadline, streaming=False))
        except Exception as error:
            reason = self.describe(error)
            log.warning("condensing the follow-up failed (%s); using the rule-based rewrite", reason)
            unreachable = reason.startswith(("timeout", "busy", "connection"))
            return None, reason if unreachable else None
        return clean_standalone(without_thinking(rewritten)), None

    def describe(self, error: BaseException) -> str:
        """A short reason for Answer.fallback: timeout, busy, connection error or model error."""
        if isinstance(error, Busy):
            return str(error)
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

    # -- one deadline per question ----------------------------------------

    def _begin(self, question: Question) -> float:
        """Start the question's deadline (forgetting those of questions never answered)."""
        now = time.monotonic()
        with self._lock:
            for key, (_, begun) in list(self._begun.items()):
                if now - begun > self.timeout + 60:
                    del self._begun[key]
            self._begun[id(question)] = (question, now)
        return now + self.timeout

    def _deadline(self, question: Question) -> float:
        """The deadline condense started for this question, or one that starts now."""
        with self._lock:
            held = self._begun.pop(id(question), None)
        begun = held[1] if held and held[0] is question else time.monotonic()
        return begun + self.timeout

    def _reply(self, prompt: ChatPromptTemplate, inputs: dict, deadline: float, streaming: bool) -> Iterator[str]:
        """The model's reply as it comes (one piece when not streaming), given up with a
        TimeoutError at the deadline. The call runs in a worker thread that holds one of the
        request slots until it ends; told to stop, it closes the request (the server sees
        the connection go and stops generating)."""
        if not self._slots.acquire(timeout=max(deadline - time.monotonic(), 0)):
            raise Busy(f"busy: {self.concurrency} model request(s) still running at the {self.timeout:g} s deadline")
        if deadline - time.monotonic() < MIN_REQUEST_SHARE * self.timeout:
            # A slot freed just before this question's own deadline: a request sent now could
            # not finish, and would only load the model server beside the one it just gave up.
            self._slots.release()
            raise Busy(f"busy: a request slot freed too close to the {self.timeout:g} s deadline")
        # No output parser in the chain: closing a stream through one leaves the request open.
        chain = prompt | self._with_timeout(deadline - time.monotonic())
        pieces: queue.Queue = queue.Queue()
        stop = threading.Event()

        def work() -> None:
            try:
                if streaming:
                    stream = chain.stream(inputs)
                    try:
                        for chunk in stream:
                            pieces.put(("piece", chunk.text))
                            if stop.is_set():
                                break
                    finally:
                        stream.close()
                else:
                    pieces.put(("piece", chain.invoke(inputs).text))
                pieces.put(("done", None))
            except BaseException as error:  # handed to the caller, who decides
                pieces.put(("error", error))
            finally:
                self._slots.release()

        threading.Thread(target=work, name="llm-request", daemon=True).start()
        try:
            while True:
                try:
                    kind, value = pieces.get(timeout=max(deadline - time.monotonic(), 0.001))
                except queue.Empty:
                    raise TimeoutError(f"the model's answer did not finish within {self.timeout:g} s") from None
                if kind == "error":
                    raise value
                if kind == "done":
                    return
                yield value
        finally:
            stop.set()

    def _with_timeout(self, seconds: float):
        """The model with each HTTP request limited to what is left of the deadline, where
        the client takes a per-request timeout (the OpenAI client does)."""
        if type(self.model).__name__ == "ChatOpenAI":
            return self.model.bind(timeout=max(seconds, 0.001))
        return self.model

    @staticmethod
    def _refusal(question: Question, base: Answer) -> Answer:
        """The model found no answer in the passages: honoured, in the question's language."""
        log.info("the model refused; its refusal stands")
        return replace(base, answer=REFUSAL_EN if question.english else REFUSAL_ZH, answerable=False,
                       citations=[], backend="llm", fallback=None, refused_by="model")

    @staticmethod
    def _fallback(base: Answer, reason: str) -> Answer:
        log.warning("LLM answer replaced by the extractive one: %s", reason)
        return replace(base, fallback=reason)


class Busy(RuntimeError):
    """Every request slot stayed taken until the deadline."""


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
