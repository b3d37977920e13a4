"""Answer in several worker processes, so that the web server's own process stays free.

The chat server is one Python process: its event loop, Gradio's queue and the JSON API
all share one interpreter lock. An answer costs the engine about 10 ms of CPU, which,
done in that process, is 10 ms during which no request is read or written. `EnginePool`
starts worker processes (`python -m assistant.workers`), each loading its own engine
from the same read-only index files, and hands each question to an idle one; the
server process only parses requests and writes replies.

The protocol is length-prefixed pickles over the worker's stdin and stdout (stdout is
kept for it alone; anything a worker prints goes to stderr, the server's log). Bounded
time, always: waiting for an idle worker gives up after `wait_s` (Overloaded), and a
worker that takes longer than `answer_s` on one question is killed and replaced
(WorkerFailed); so is one that dies.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import queue
import select
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace

from assistant.config import ROOT, Settings
from assistant.types import Answer, BadQuestion, Turn

log = logging.getLogger(__name__)

_HEADER = struct.Struct("!I")
START_TIMEOUT = 180.0  # seconds for a worker to load (building a missing index included)


class Overloaded(RuntimeError):
    """No worker became free in time; try again shortly."""


class WorkerFailed(RuntimeError):
    """The worker died or took too long on this question; it has been replaced."""


def default_workers() -> int:
    """One per core: a worker is busy only while it computes."""
    return max(1, os.cpu_count() or 1)


class _Worker:
    def __init__(self, settings: Settings) -> None:
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        self.process = subprocess.Popen([sys.executable, "-m", "assistant.workers"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, env=env, bufsize=0)
        self.pid = self.process.pid
        _write(self.process.stdin, replace(settings, threads=1))  # one BLAS thread each: one core each

    def wait_ready(self, timeout: float) -> None:
        try:
            kind, *_ = self.receive(timeout)
        except TimeoutError:
            raise WorkerFailed(f"worker {self.pid} did not start within {timeout:.0f} s") from None
        except (EOFError, OSError, pickle.UnpicklingError, ValueError):
            raise WorkerFailed(f"worker {self.pid} stopped while starting (its error is in the log above)") from None
        if kind != "ready":
            raise WorkerFailed(f"worker {self.pid} did not start")

    def ask(self, question: str, history: list[Turn], as_json: bool, timeout: float):
        _write(self.process.stdin, (question, [(t.role, t.content) for t in history], as_json))
        return self.receive(timeout)

    def receive(self, timeout: float):
        fd = self.process.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            raise TimeoutError
        (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size))
        return pickle.loads(_read_exactly(fd, size))

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                try:
                    self.process.stdin.close()  # the worker's read loop ends
                except OSError:
                    pass
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass


class EnginePool:
    """`workers` engine processes answering questions one at a time each, strictly in the
    order the questions came: one line of waiting questions, and one thread per worker
    that takes the oldest and hands it to its process."""

    def __init__(self, settings: Settings, workers: int, wait_s: float = 5.0, answer_s: float = 30.0) -> None:
        self.settings = settings
        self.size = workers
        self.wait_s = wait_s
        self.answer_s = answer_s
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        started = time.perf_counter()
        workers_ = [_Worker(settings) for _ in range(workers)]
        try:
            for worker in workers_:
                worker.wait_ready(START_TIMEOUT)
        except BaseException:
            for worker in workers_:
                worker.stop(kill=True)
            raise
        for worker in workers_:
            self._all.add(worker)
            threading.Thread(target=self._serve, args=(worker,), daemon=True, name="answer-dispatch").start()
        log.info("%d answer workers ready in %.1f s", workers, time.perf_counter() - started)

    @property
    def ready(self) -> int:
        """Workers alive (busy or idle)."""
        with self._lock:
            return sum(1 for w in self._all if w.process.poll() is None)

    @property
    def deadline_s(self) -> float:
        """The longest a submitted question can take: waiting, then answering."""
        return self.wait_s + self.answer_s + 1

    def submit(self, question: str, history: list[Turn] | None = None, as_json: bool = False) -> Future:
        """A future of the answer (an Answer, or its JSON bytes with as_json). It fails with
        BadQuestion as the engine raises it; Overloaded when it waited wait_s for a worker;
        WorkerFailed when its worker died or hung, or none is running."""
        future: Future = Future()
        if self._closed or not self.ready:
            future.set_exception(WorkerFailed("no answer worker is running"))
        else:
            self._jobs.put((time.monotonic(), question, list(history or []), as_json, future))
        return future

    def ask(self, question: str, history: list[Turn] | None = None) -> Answer:
        """The engine's answer, computed in a worker (waiting for it)."""
        return self._result(self.submit(question, history))

    def ask_json(self, question: str, history: list[Turn] | None = None) -> bytes:
        """The answer as the UTF-8 JSON object of CONTRACT §1, written by the worker: the
        server process then only forwards bytes."""
        return self._result(self.submit(question, history, as_json=True))

    def _result(self, future: Future):
        try:
            return future.result(timeout=self.deadline_s)
        except FutureTimeout:
            raise Overloaded(f"no answer within {self.deadline_s:.0f} s") from None

    def _serve(self, worker: _Worker) -> None:
        """One worker's thread: the oldest waiting question, answered by its process, until closed."""
        while (job := self._jobs.get()) is not None:
            queued_at, question, history, as_json, future = job
            if not future.set_running_or_notify_cancel():
                continue
            if time.monotonic() - queued_at > self.wait_s:
                future.set_exception(Overloaded(f"waited more than {self.wait_s:.0f} s for a worker"))
                continue
            try:
                kind, value = worker.ask(question, history, as_json, self.answer_s)
            except TimeoutError:
                future.set_exception(WorkerFailed("the answer took too long"))
                worker = self._replace(worker, f"took longer than {self.answer_s:.0f} s")
            except (EOFError, OSError, pickle.UnpicklingError, ValueError):
                future.set_exception(WorkerFailed("the answer worker stopped"))
                worker = self._replace(worker, "died")
            else:
                if kind == "ok":
                    future.set_result(value)
                elif kind == "bad":
                    future.set_exception(BadQuestion(value))
                else:
                    future.set_exception(RuntimeError(f"answering failed in worker {worker.pid}: {value}"))
            if worker is None:
                return

    def _replace(self, worker: _Worker, why: str) -> _Worker | None:
        """A new process in place of `worker` (None when closing or when it cannot start)."""
        log.warning("answer worker %d %s; starting another", worker.pid, why)
        worker.stop(kill=True)
        with self._lock:
            self._all.discard(worker)
            if self._closed:
                return None
        try:
            new = _Worker(self.settings)
            new.wait_ready(START_TIMEOUT)
        except Exception:  # noqa: BLE001 — one line; the other workers carry on
            log.exception("an answer worker failed to start")
            return None
        with self._lock:
            if self._closed:
                new.stop()
                return None
            self._all.add(new)
        return new

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        for _ in workers:
            self._jobs.put(None)
        for worker in workers:
            worker.stop()


def start_pool(settings: Settings, workers: int) -> EnginePool | None:
    """`workers` answer workers, or None (answer in this process) for 0 or when they cannot
    start: the server still serves, a little slower, and says so in one log line."""
    if workers <= 0:
        return None
    try:
        return EnginePool(settings, workers)
    except (WorkerFailed, OSError) as error:
        log.warning("answer workers did not start (%s); answering in the server process", error)
        return None


class PooledAssistant:
    """A loaded PlanAssistant whose `ask` runs in an EnginePool; everything else (the
    outline, the ledger, streaming LLM answers) is the local engine's."""

    def __init__(self, local, pool: EnginePool | None) -> None:
        self.local = local
        self.pool = pool
        self._lock = threading.Lock()  # without a pool: one question at a time through the local engine

    def ask(self, question: str, history: list[Turn] | None = None) -> Answer:
        if self.pool is None:
            with self._lock:
                return self.local.ask(question, history)
        return self.pool.ask(question, history)

    def ask_json(self, question: str, history: list[Turn] | None = None) -> bytes:
        """The answer as UTF-8 JSON (CONTRACT §1)."""
        if self.pool is None:
            return answer_json(self.ask(question, history))
        return self.pool.ask_json(question, history)

    def __getattr__(self, name: str):
        return getattr(self.local, name)


def answer_json(answer: Answer) -> bytes:
    """CONTRACT §1 as compact UTF-8 JSON (not ASCII-escaped)."""
    return json.dumps(answer.to_dict(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# -- the worker process ------------------------------------------------------------


def _write(stream, message) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(body)) + body)
    stream.flush()


def _read_exactly(fd: int, size: int) -> bytes:
    """`size` bytes from a pipe (unbuffered: select must see what is not yet read); EOFError if it closes."""
    parts, left = [], size
    while left:
        part = os.read(fd, left)
        if not part:
            raise EOFError
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _read(stream):
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    return pickle.loads(stream.read(_HEADER.unpack(header)[0]))


def serve() -> int:
    """Load the engine with the settings the server sends, then answer until stdin closes."""
    # stdout carries the protocol alone: anything printed goes to stderr instead.
    requests, replies = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format=f"worker {os.getpid()}: %(message)s")
    settings = _read(requests)
    if settings is None:
        return 0
    from assistant.jieba_cache import load_dictionary

    load_dictionary()
    from assistant.engine import PlanAssistant

    assistant = PlanAssistant.load(settings)
    assistant.ask("养老床位要达到多少？")  # the first answer loads what loads lazily
    _write(replies, ("ready", os.getpid()))
    while (message := _read(requests)) is not None:
        question, history, as_json = message
        try:
            answer = assistant.ask(question, [Turn(role, content) for role, content in history])
            reply = ("ok", answer_json(answer) if as_json else answer)
        except BadQuestion as error:
            reply = ("bad", str(error))
        except Exception as error:  # logged here with its traceback; the server gets one line
            logging.getLogger("assistant.workers").exception("answering %r failed", str(question)[:200])
            reply = ("error", type(error).__name__)
        _write(replies, reply)
    return 0


if __name__ == "__main__":
    sys.exit(serve())
