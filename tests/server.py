"""The real chat server (app.py) in a subprocess on a free loopback port, and the page
helpers for driving it in headless Chromium: shared by the browser, web-API and fault
tests and by the load benchmark (bench/load.py).

Nothing here needs pytest: a server that does not come up raises ServerFailed with the
end of its log. `QueueSession` and `raw_post` talk to the server the way a script (or an
attacker) would: Gradio's queue protocol over plain HTTP, from a chosen loopback
address, and a POST whose headers go out before its body.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 180  # seconds; includes building the index when no earlier test has
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


class ServerFailed(RuntimeError):
    """The server exited or did not answer in time; the message ends with its log."""


@dataclass
class Server:
    url: str
    feedback_db: Path
    process: subprocess.Popen
    log: Path

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self) -> None:
        """Terminate (then kill, if it lingers) and wait."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL, as a crash or an out-of-memory kill would: no cleanup runs."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_server(index_dir: Path, feedback_db: Path, log: Path, env: dict[str, str] | None = None) -> Server:
    """Start app.py with this index folder and feedback database, without waiting for it.

    `env` adds to (and overrides) the environment, e.g. the queue settings.
    """
    port = free_port()
    environment = {**os.environ, "ASSISTANT_INDEX_DIR": str(index_dir), "ASSISTANT_FEEDBACK_DB": str(feedback_db),
                   "ASSISTANT_FEEDBACK_URL": "",  # votes go to feedback_db, whatever this shell sets
                   "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
                   # Answers in the server's own process: one engine to load, not one per core. The
                   # worker pool has its own tests (test_api.py, which asks for workers).
                   "ASSISTANT_WORKERS": "0",
                   **(env or {})}
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:  # appended: a restarted server keeps the first one's log
        process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port)],
                                   cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT)
    return Server(f"http://127.0.0.1:{port}/", Path(feedback_db), process, log)


def wait_until_up(server: Server, timeout: float = START_TIMEOUT) -> Server:
    """Return once the page answers; ServerFailed (the server stopped) if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise ServerFailed(f"the server exited with status {server.process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url, timeout=2) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise ServerFailed(f"the server did not answer within {timeout:.0f} s:\n{server.log_tail()}")
        time.sleep(0.5)


def start_server(index_dir: Path, feedback_db: Path, log: Path, env: dict[str, str] | None = None,
                 timeout: float = START_TIMEOUT) -> Server:
    """launch_server, then wait_until_up."""
    return wait_until_up(launch_server(index_dir, feedback_db, log, env), timeout)


def rss_mib(pid: int) -> float:
    """Resident memory of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


# -- plain HTTP, as a script would send it ----------------------------------------


def functions(url: str) -> dict[str, int]:
    """The server's event handlers by name (api_name) → fn_index, from its /config."""
    with urllib.request.urlopen(url + "config", timeout=30) as response:
        config = json.loads(response.read())
    return {dep["api_name"]: dep["id"] for dep in config["dependencies"] if dep.get("api_name")}


def raw_post(url: str, path: str, body: bytes, headers: dict[str, str] | None = None,
             source: str = "127.0.0.1", early_reply_wait: float = 1.0) -> tuple[int, bytes]:
    """POST `body` over a plain socket: the headers first, and the body only if the server has
    not answered within `early_reply_wait` seconds (a server that refuses a large body at
    once says so before it is sent). (status, response body)."""
    host, port = url.split("//", 1)[1].rstrip("/").split(":")
    head = {"Host": f"{host}:{port}", "Content-Type": "application/json", "Content-Length": str(len(body)),
            "Connection": "close", **(headers or {})}
    with socket.create_connection((host, int(port)), timeout=60, source_address=(source, 0)) as sock:
        sock.sendall((f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items())
                      + "\r\n").encode("latin-1"))
        if not select.select([sock], [], [], early_reply_wait)[0]:
            try:
                sock.sendall(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused part way: the reply is already waiting
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.read()


@dataclass
class QueueSession:
    """One session of Gradio's queue protocol, as the page's JavaScript speaks it: POST
    /gradio_api/queue/join with a function's index and its input values, then read the
    session's event stream until every event joined has completed.

    `source` is the loopback address to connect from (127.0.0.2, 127.0.0.3 …): to the
    server, different clients."""

    url: str
    source: str = "127.0.0.1"
    session: str = field(default_factory=lambda: uuid.uuid4().hex)

    def join(self, fn_index: int, data: list, event_data=None, trigger_id: int | None = None) -> tuple[int, dict]:
        """(status, reply): 200 and {"event_id": …} when the event is queued."""
        body = {"data": data, "fn_index": fn_index, "session_hash": self.session, "event_data": event_data,
                "trigger_id": trigger_id}
        status, reply = raw_post(self.url, "/gradio_api/queue/join", json.dumps(body).encode(), source=self.source,
                                 early_reply_wait=0)
        try:
            return status, json.loads(reply)
        except ValueError:
            return status, {"raw": reply[:200].decode(errors="replace")}

    def results(self, event_ids: list[str], timeout: float = 60) -> dict[str, tuple[float, dict]]:
        """Read the event stream until `event_ids` have completed: event id → (the time its
        completion arrived, the message: {"success": …, "output": {"data": […]}})."""
        host, port = self.url.split("//", 1)[1].rstrip("/").split(":")
        done: dict[str, tuple[float, dict]] = {}
        deadline = time.monotonic() + timeout
        while set(event_ids) - done.keys() and time.monotonic() < deadline:
            connection = http.client.HTTPConnection(host, int(port), timeout=timeout,
                                                    source_address=(self.source, 0))
            try:
                connection.request("GET", f"/gradio_api/queue/data?session_hash={self.session}")
                response = connection.getresponse()
                if response.status != 200:
                    time.sleep(0.2)
                    continue
                for line in response:
                    if not line.startswith(b"data:"):
                        continue
                    message = json.loads(line[5:])
                    if message.get("msg") == "process_completed":
                        done[message.get("event_id")] = (time.monotonic(), message)
                    if message.get("msg") == "close_stream" or not set(event_ids) - done.keys():
                        break
            finally:
                connection.close()
        return done

    def cancel(self, fn_index: int, event_ids: list[str]) -> None:
        """Take these events off the queue (what the page's stop button does)."""
        for event_id in event_ids:
            body = {"session_hash": self.session, "fn_index": fn_index, "event_id": event_id}
            raw_post(self.url, "/gradio_api/cancel", json.dumps(body).encode(), source=self.source,
                     early_reply_wait=0)

    def ask(self, fn_index: int, data: list, event_data=None, timeout: float = 60) -> dict:
        """Join and wait: the completion message of this one event."""
        status, reply = self.join(fn_index, data, event_data)
        assert status == 200, (status, reply)
        return self.results([reply["event_id"]], timeout)[reply["event_id"]][1]


# -- the page in a browser ------------------------------------------------------


def clear(page) -> None:
    page.click("#pa-clear")
    page.wait_for_selector("#pa-chat button.example")


def ask(page, question: str):
    """Type the question, press Enter, wait for the answer; (its message, seconds taken)."""
    bots = "#pa-chat [data-testid=bot]"
    before = page.locator(bots).count()
    page.fill("#pa-input textarea", question)
    start = time.perf_counter()
    page.press("#pa-input textarea", "Enter")
    page.wait_for_function(
        """([selector, before]) => {
            const bots = document.querySelectorAll(selector);
            return bots.length > before && !bots[bots.length - 1].querySelector('.pa-pending');
        }""", arg=[bots, before])
    return page.locator(bots).last, time.perf_counter() - start


def vote(page, liked: bool) -> None:
    """Click 👍 or 👎 on the last answer (the labels are Chinese or English with the locale)."""
    labels = ("赞", "Like") if liked else ("踩", "Dislike")
    page.locator(", ".join(f'#pa-chat button[aria-label="{label}"]' for label in labels)).last.click()
