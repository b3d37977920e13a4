"""End to end: the real server in a subprocess, driven by headless Chromium.

Starts `app.py` on a free loopback port with the index in a temporary folder (the
session's, so the index is built once for all tests) and the feedback database in
another, then asks questions the way a citizen would. Saves docs/chat.png.
"""

from __future__ import annotations

import io
import json
import sqlite3
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.server import CHROMIUM, CHROMIUM_ARGS, ROOT, ask, clear, start_server, vote

SCREENSHOT = ROOT / "docs" / "chat.png"
ANSWER_TIMEOUT = 20_000  # milliseconds

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} is missing: install it with `make browser-deps`")


@pytest.fixture(scope="module")
def server(index_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("server")
    server = start_server(index_dir, tmp / "feedback.sqlite3", tmp / "server.log")
    yield server
    server.stop()


@dataclass
class Browser:
    page: object
    dialogs: list
    outside_requests: list


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = chromium.new_page(viewport={"width": 1280, "height": 1100}, locale="zh-CN")
        page.set_default_timeout(ANSWER_TIMEOUT)
        seen = Browser(page, [], [])
        page.on("dialog", lambda dialog: (seen.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("request", lambda request: None if request.url.startswith(server.url)
                else seen.outside_requests.append(request.url))
        page.goto(server.url)
        page.wait_for_selector("#pa-input textarea")
        yield seen
        chromium.close()


def save_screenshot(png: bytes) -> None:
    """Write docs/chat.png unless it already shows exactly this (PNG bytes vary run to run)."""
    from PIL import Image, ImageChops

    if SCREENSHOT.exists():
        old, new = Image.open(SCREENSHOT).convert("RGB"), Image.open(io.BytesIO(png)).convert("RGB")
        if old.size == new.size and ImageChops.difference(old, new).getbbox() is None:
            return
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.write_bytes(png)


def test_first_visit_shows_examples_in_chinese(browser):
    page = browser.page
    examples = page.locator("#pa-chat button.example").all_inner_texts()
    for topic in ("养老", "教育", "医疗", "交通", "住房", "环境", "就业"):
        assert any(text.startswith(topic) for text in examples), topic
    assert page.get_by_role("tab", name="规划问答").count() == 1
    assert page.locator("#pa-send").inner_text() == "发送"


def test_indicator_question_is_answered_with_its_source(browser, capsys):
    page = browser.page
    clear(page)
    message, seconds = ask(page, "2025年高新技术企业要达到多少家？")
    with capsys.disabled():
        print(f"\n  browser: question → answer shown in {seconds:.2f} s")
    assert "600" in message.locator(".pa-answer-text").inner_text()
    assert message.locator("sup.pa-ref").first.inner_text() == "[1]"
    source = message.locator("details.pa-source").first
    assert "指标6" in source.locator("summary").first.inner_text()
    source.locator("summary").first.click()
    assert "2025年达到600家" in source.locator(".pa-quote").inner_text()
    source.locator("details.pa-fulltext > summary").click()
    assert "高新技术企业数" in source.locator("tr.pa-hit").inner_text()


def test_follow_up_uses_history(browser):
    page = browser.page
    clear(page)
    first, _ = ask(page, "绿化覆盖率的目标是多少？")
    assert "33.33%" in first.locator(".pa-answer-text").inner_text()
    follow_up, _ = ask(page, "十三五的时候是多少？")
    assert "33.16%" in follow_up.locator(".pa-answer-text").inner_text()
    # Open the source down to the full section, the quote highlighted, for the screenshot.
    follow_up.locator("details.pa-source > summary").first.click()
    follow_up.locator("details.pa-fulltext > summary").first.click()
    assert "33.16%" in follow_up.locator(".pa-section-text mark").inner_text()
    page.wait_for_timeout(300)
    save_screenshot(page.screenshot())


def test_off_topic_question_is_refused_without_sources(browser):
    page = browser.page
    clear(page)
    message, _ = ask(page, "明天天气怎么样？")
    assert message.locator(".pa-refusal").count() == 1
    assert message.locator(".pa-source, sup.pa-ref").count() == 0


def test_down_vote_with_comment_is_saved(browser, server):
    page = browser.page
    clear(page)
    ask(page, "明天天气怎么样？")
    vote(page, liked=False)
    box = page.locator("#pa-feedback").first
    box.wait_for(state="visible")
    page.fill("#pa-comment textarea", "规划里应该有天气相关的内容吗？")
    page.click("#pa-send-comment")
    box.wait_for(state="hidden")
    deadline = time.monotonic() + 5
    while True:
        with sqlite3.connect(server.feedback_db) as db:
            rows = db.execute("SELECT question, vote, comment, answer, history FROM feedback").fetchall()
        if rows and rows[-1][2] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert rows[-1][:3] == ("明天天气怎么样？", "down", "规划里应该有天气相关的内容吗？")
    assert "没有提到" in rows[-1][3] and json.loads(rows[-1][4]) == []


def test_user_html_is_shown_as_text(browser):
    page = browser.page
    clear(page)
    question = "看看 <img src=x onerror=alert(1)> 和 ![x](http://127.0.0.1:9/x.png)"
    ask(page, question)
    assert page.locator("#pa-chat [data-testid=user]").last.inner_text().strip() == question
    assert page.locator("#pa-chat img").count() == 0
    page.wait_for_timeout(300)
    assert browser.dialogs == [] and not any("127.0.0.1:9" in url for url in browser.outside_requests)


def test_a_question_wrapped_in_markup_is_answered_in_chinese(browser):
    page = browser.page
    clear(page)
    message, _ = ask(page, "<b>高新技术企业数目标？</b>")
    assert "600家" in message.locator(".pa-answer-text").inner_text()
    assert "指标6" in message.locator("details.pa-source summary").first.inner_text()


def test_too_long_question_gets_a_friendly_message(browser):
    page = browser.page
    clear(page)
    message, _ = ask(page, "长" * 501)
    assert "问题有点长" in message.locator(".pa-notice").inner_text()


def test_api_endpoint_answers_with_the_contract_dict(server):
    from gradio_client import Client

    client = Client(server.url, verbose=False)
    result = client.predict("2025年高新技术企业要达到多少家？", [], api_name="/ask")
    assert "600" in result["answer"] and result["answerable"] is True
    assert result["citations"][0]["indicator"] == 6 and len(result["sources"]) >= 5
    history = [{"role": "user", "content": "绿化覆盖率的目标是多少？"},
               {"role": "assistant", "content": "根据《纲要》主要指标第12项，绿化覆盖率（%）：2025年达到33.33%。[1]"}]
    assert "33.16%" in client.predict("十三五的时候是多少？", history, api_name="/ask")["answer"]
    assert client.predict("明天天气怎么样？", api_name="/ask")["answerable"] is False


def test_server_survives_bad_requests(server):
    from gradio_client import Client

    call = f"{server.url}gradio_api/call/ask"
    for body in (b"not json", b'{"data": [123, {"role": 5}]}', b'{"data": ["' + "长".encode() * 5000 + b'"]}'):
        request = urllib.request.Request(call, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                event = json.loads(response.read())["event_id"]
            with urllib.request.urlopen(f"{call}/{event}", timeout=10) as response:
                assert b"event: error" in response.read()
        except urllib.error.HTTPError as error:
            assert 400 <= error.code < 500
    client = Client(server.url, verbose=False)
    for question, history in (("", []), ("好" * 5000, []), ("绿化？", "not json"), ("绿化？", [{"role": "x"}])):
        with pytest.raises(Exception):
            client.predict(question, history, api_name="/ask")
    assert server.process.poll() is None
    assert "600" in client.predict("2025年高新技术企业要达到多少家？", [], api_name="/ask")["answer"]
