"""The real chat server (app.py) in a subprocess on a free loopback port, and the page
helpers for driving it in headless Chromium: shared by the browser, web-API and fault
tests and by the load benchmark (bench/load.py).

Nothing here needs pytest: a server that does not come up raises ServerFailed with the
end of its log.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
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
                   "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
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
