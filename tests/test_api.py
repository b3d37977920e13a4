"""The plain JSON HTTP API (CONTRACT §4): answers, 400/413 for bad input, 503/429 with
Retry-After when overloaded, health, the OpenAPI document; in process, then through the
real server with its answer workers."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from assistant.api import ApiLimits, JsonApi
from assistant.types import Answer
from assistant.workers import Overloaded
from tests.hostile_cases import CASES
from tests.server import start_server

ANSWER_KEYS = {"question", "answer", "answerable", "citations", "sources"}
FOLLOW_UP = {"question": "那交通呢？", "history": [{"role": "user", "content": "养老床位要新增多少？"},
                                              {"role": "assistant", "content": "…"}]}


def client_for(api: JsonApi) -> TestClient:
    return TestClient(FastAPI(routes=api.routes()))


@pytest.fixture(scope="module")
def api(assistant):
    api = JsonApi(assistant, limits=ApiLimits(max_body_bytes=4096, max_pending=8, rate_per_client=0))
    yield api
    api.close()


@pytest.fixture(scope="module")
def client(api):
    return client_for(api)


def test_ask_returns_the_answer_object(client):
    response = client.post("/api/ask", json={"question": "2025年高新技术企业要达到多少家？"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    answer = response.json()
    assert ANSWER_KEYS <= answer.keys() and answer["answerable"] and "600" in answer["answer"]
    assert {"chapter": 2, "section": 4, "indicator": 6}.items() <= answer["citations"][0].items()
    assert "600家" in response.content.decode("utf-8")  # UTF-8 as is, not \u-escaped


def test_follow_up_uses_the_history(client):
    answer = client.post("/api/ask", json=FOLLOW_UP).json()
    assert answer["answerable"] and answer["citations"]
    assert any(word in answer["answer"] for word in ("交通", "停车", "道路", "轨道"))


def test_unanswerable_question_is_200_with_no_citations(client):
    answer = client.post("/api/ask", json={"question": "明天天气怎么样？"}).json()
    assert answer["answerable"] is False and answer["citations"] == []


@pytest.mark.parametrize("body", [
    b"not json", b"\xff\xfe not utf-8", b"[1, 2]", b'"just a string"', b"{}", b'{"question": 5}',
    b'{"question": ["a"]}', b'{"question": ""}', b'{"question": "   \\u200b "}',
    json.dumps({"question": "长" * 501}).encode(), b'{"question": "q", "history": "not a list"}',
    b'{"question": "q", "history": [{"role": "system", "content": "x"}]}',
    b'{"question": "q", "history": [{"role": "user", "content": 5}]}', b'{"question": "q", "history": [1]}',
])
def test_bad_input_is_400_with_one_line(client, body):
    response = client.post("/api/ask", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error and "\n" not in error and "Traceback" not in error


def test_body_over_the_limit_is_413(client):
    response = client.post("/api/ask", json={"question": "养老", "history": [{"role": "user", "content": "长" * 5000}]})
    assert response.status_code == 413 and "bytes" in response.json()["error"]


def test_hostile_questions_get_an_answer_or_400(client):
    for question in CASES:
        response = client.post("/api/ask", json={"question": question})
        assert response.status_code in (200, 400, 413), (question[:50], response.status_code)
        assert ANSWER_KEYS <= response.json().keys() if response.status_code == 200 else response.json()["error"]


class _Busy:
    """An engine whose workers are all taken."""

    settings = None

    def ask(self, question, history=None) -> Answer:
        raise Overloaded("all workers busy")


def test_overload_is_503_with_retry_after(api, client, settings):
    busy = client_for(JsonApi(_Busy(), settings, ApiLimits(max_pending=8)))
    response = busy.post("/api/ask", json={"question": "养老床位要达到多少？"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert "busy" in response.json()["error"]
    api.pending = api.limits.max_pending  # as many waiting as allowed: the next is refused at the door
    try:
        response = client.post("/api/ask", json={"question": "养老床位要达到多少？"})
    finally:
        api.pending = 0
    assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1


def test_client_over_its_rate_gets_429_with_retry_after(assistant):
    limited = client_for(JsonApi(assistant, limits=ApiLimits(rate_per_client=1)))
    codes = [limited.post("/api/ask", json={"question": "养老床位要达到多少？"}) for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]  # a burst of two, then wait
    assert int(codes[2].headers["Retry-After"]) >= 1 and "too many" in codes[2].json()["error"]


def test_health_reports_the_loaded_index(client, assistant):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["chunks"] == len(assistant.index.chunks)


def test_openapi_describes_ask_and_health(client):
    document = client.get("/api/openapi.json").json()
    ask = document["paths"]["/api/ask"]["post"]
    assert ask["requestBody"]["content"]["application/json"]["schema"]["required"] == ["question"]
    assert {"200", "400", "413", "429", "503"} <= ask["responses"].keys()
    assert "Retry-After" in ask["responses"]["503"]["headers"]
    assert {"question", "answer", "answerable", "citations", "sources"} <= set(
        document["components"]["schemas"]["Answer"]["properties"])
    assert "/api/health" in document["paths"]
    assert "/api/ask" in client.get("/openapi.json").json()["paths"]  # the server's own document too


# -- the real server: app.py with its answer workers ---------------------------------------


@pytest.fixture(scope="module")
def server(index_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api-server")
    server = start_server(index_dir, tmp / "feedback.sqlite3", tmp / "server.log", env={"ASSISTANT_WORKERS": "2"})
    yield server
    server.stop()


def post(url: str, body: bytes) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_server_answers_many_clients_at_once_through_its_workers(server):
    with urllib.request.urlopen(server.url + "api/health", timeout=10) as response:
        health = json.loads(response.read())
    assert health["status"] == "ok" and health["workers"] == 2
    results: list[tuple[int, dict, dict]] = []

    def client(n: int) -> None:
        for _ in range(4):
            results.append(post(server.url + "api/ask", json.dumps(FOLLOW_UP if n % 2 else
                                                                    {"question": "绿化覆盖率的目标是多少？"}).encode()))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 32 and all(status == 200 and ANSWER_KEYS <= body.keys() for status, _, body in results)
    status, _, body = post(server.url + "api/ask", b"{")
    assert status == 400 and body["error"]
    assert "Traceback" not in server.log_tail(100_000)


def test_a_slow_rate_still_lets_one_request_through(assistant):
    limited = client_for(JsonApi(assistant, limits=ApiLimits(rate_per_client=0.2)))
    codes = [limited.post("/api/ask", json={"question": "养老床位要达到多少？"}).status_code for _ in range(2)]
    assert codes == [200, 429]


def test_workers_that_cannot_start_leave_answering_in_process(settings, tmp_path):
    from dataclasses import replace

    from assistant.workers import start_pool

    assert start_pool(settings, 0) is None
    broken = replace(settings, plan_path=tmp_path / "no-such-plan.txt")  # every worker fails to load
    assert start_pool(broken, 1) is None
