"""Answer workers: the engine's answers from other processes, in order, in bounded time; a
worker that dies or hangs is replaced and only its own question fails."""

from __future__ import annotations

import os
import signal
import time

import pytest

from assistant.types import BadQuestion
from assistant.workers import EnginePool, PooledAssistant, WorkerFailed


@pytest.fixture(scope="module")
def pool(settings, assistant):  # the session's index is built (by `assistant`) before workers load it
    pool = EnginePool(settings, 1, wait_s=5, answer_s=3)
    yield pool
    pool.close()


def wait_for_worker(pool: EnginePool, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while pool.ready < 1 or not pool._all:
        assert time.monotonic() < deadline, "no worker came back"
        time.sleep(0.2)


def test_worker_answers_as_the_engine_does(pool, assistant):
    question = "2025年高新技术企业要达到多少家？"
    assert pool.ask(question).to_dict() == assistant.ask(question).to_dict()
    assert b'"answerable":true' in pool.ask_json(question)
    with pytest.raises(BadQuestion):
        pool.ask("   ")
    served = PooledAssistant(assistant, pool)
    assert served.ask(question).answer == assistant.ask(question).answer and served.outline is assistant.outline


def test_a_killed_worker_fails_one_question_and_is_replaced(pool):
    [worker] = list(pool._all)
    os.kill(worker.pid, signal.SIGKILL)
    with pytest.raises(WorkerFailed):
        pool.ask("养老床位要达到多少？")
    wait_for_worker(pool)
    assert pool.ask("养老床位要达到多少？").answerable


def test_a_hung_worker_is_given_up_on_in_bounded_time(pool):
    [worker] = list(pool._all)
    os.kill(worker.pid, signal.SIGSTOP)  # alive, but answers nothing
    started = time.monotonic()
    with pytest.raises(WorkerFailed, match="too long"):
        pool.ask("养老床位要达到多少？")
    assert time.monotonic() - started < pool.answer_s + 2
    wait_for_worker(pool)
    assert pool.ask("养老床位要达到多少？").answerable
