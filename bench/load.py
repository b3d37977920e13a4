"""`make load`: many clients at once against the real chat server, through the JSON API and
through the chat page's queue.

    python -m bench.load [--clients 50] [--seconds 45] [--only api|chat] [--workers N]
                         [--chat-clients 50] [--chat-seconds 45] [--gradio-client] [--json PATH]

One real server (app.py: the repository's index, a throwaway feedback database, a free
loopback port, its default answer workers unless --workers). Then:

- api: `--clients` threads, each with one keep-alive HTTP connection, POST the eval
  questions (eval/dev.jsonl, with their histories, round robin) to /api/ask, each sending
  the next as soon as the last is answered, until `--seconds` have passed;
- chat: `--chat-clients` users ask the same questions through the page's `/ask` endpoint,
  which goes through Gradio's queue: each joins the queue and reads the event stream until
  its answer comes, as the page in a browser does (Gradio's protocol over keep-alive
  connections); with --gradio-client each is a gradio_client Client instead, which costs
  the machine about 0.1 s of CPU per question on the client side alone.

Printed: answers per second, latency as the client sees it (p50, p95, max), errors by kind
(a 503 or 429 counts as an error here), tracebacks in the server's log, and how busy the
machine was (load average, CPU time the host took away). The clients run on the same
machine as the server and take their share of its cores.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.server import ROOT, ServerFailed, launch_server, wait_until_up

REQUEST_TIMEOUT = 30  # seconds; a request still unanswered then counts as an error


@dataclass
class Run:
    """What one kind of client measured."""

    name: str
    clients: int
    seconds_asked: float
    sent: int = 0
    answered: int = 0
    elapsed: float = 0.0  # first request sent to last reply
    latencies: list[float] = field(default_factory=list)  # seconds, answered requests only
    errors: Counter = field(default_factory=Counter)  # kind → count
    load_average: float = 0.0  # 1-minute, at the end
    steal: float = 0.0  # share of CPU time the host took while it ran
    server_tracebacks: int = 0

    @property
    def throughput(self) -> float:
        return self.answered / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def eval_questions() -> list[tuple[str, list[dict]]]:
    lines = (ROOT / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    return [(item["question"], item.get("history") or []) for item in items]


def cpu_times() -> tuple[int, int]:
    """(all CPU time, time stolen by the host) since boot, in clock ticks; (0, 0) off Linux."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0


def drive(run: Run, client_loop) -> None:
    """`run.clients` threads calling client_loop(record, deadline) until run.seconds_asked pass."""
    lock = threading.Lock()
    first, last = [float("inf")], [0.0]

    def record(started: float, error: str | None = None) -> None:
        now = time.perf_counter()
        with lock:
            run.sent += 1
            first[0] = min(first[0], started)
            if error is None:
                run.answered += 1
                run.latencies.append(now - started)
                last[0] = max(last[0], now)
            else:
                run.errors[error] += 1

    ready = threading.Barrier(run.clients + 1)
    deadline = [float("inf")]
    threads = [threading.Thread(target=client_loop, args=(n, record, ready, deadline), daemon=True)
               for n in range(run.clients)]
    for thread in threads:
        thread.start()
    ready.wait()  # every client connected
    total_before, steal_before = cpu_times()
    deadline[0] = time.perf_counter() + run.seconds_asked
    for thread in threads:
        thread.join(timeout=run.seconds_asked + REQUEST_TIMEOUT + 10)
    total_after, steal_after = cpu_times()
    run.elapsed = max(0.0, last[0] - first[0]) if run.answered else 0.0
    run.steal = (steal_after - steal_before) / max(1, total_after - total_before)
    run.load_average = os.getloadavg()[0]


def api_clients(url: str, questions: list[tuple[str, list[dict]]]):
    host, port = url.split("//", 1)[1].rstrip("/").split(":")

    def client_loop(n: int, record, ready, deadline) -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=REQUEST_TIMEOUT)
        ready.wait()
        number = n * 7  # each client starts elsewhere in the questions
        while time.perf_counter() < deadline[0]:
            question, history = questions[number % len(questions)]
            number += 1
            body = json.dumps({"question": question, "history": history}, ensure_ascii=False).encode()
            started = time.perf_counter()
            try:
                connection.request("POST", "/api/ask", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as error:
                record(started, f"{type(error).__name__}")
                connection.close()
                connection = http.client.HTTPConnection(host, int(port), timeout=REQUEST_TIMEOUT)
                continue
            if response.status == 200 and b'"answerable"' in data:
                record(started)
            else:
                record(started, f"HTTP {response.status}")
        connection.close()

    return client_loop


def ask_fn_index(url: str) -> int:
    """The queue's number for the page's `/ask` endpoint, from the page's config."""
    import urllib.request

    with urllib.request.urlopen(url + "config", timeout=10) as response:
        config = json.loads(response.read())
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == "ask")


def chat_clients(url: str, questions: list[tuple[str, list[dict]]]):
    """Users of the page's queue as a browser is one: join the queue, then read the event
    stream until the answer comes (Gradio's own protocol, over keep-alive connections)."""
    host, port = url.split("//", 1)[1].rstrip("/").split(":")
    fn_index = ask_fn_index(url)

    def client_loop(n: int, record, ready, deadline) -> None:
        import uuid

        join = http.client.HTTPConnection(host, int(port), timeout=REQUEST_TIMEOUT)
        stream = http.client.HTTPConnection(host, int(port), timeout=REQUEST_TIMEOUT)
        session = uuid.uuid4().hex[:11]
        ready.wait()
        number = n * 7  # each client starts elsewhere in the questions
        while time.perf_counter() < deadline[0]:
            question, history = questions[number % len(questions)]
            number += 1
            body = json.dumps({"data": [question, history], "fn_index": fn_index, "session_hash": session,
                               "event_data": None, "trigger_id": None}, ensure_ascii=False).encode()
            started = time.perf_counter()
            try:
                join.request("POST", "/gradio_api/queue/join", body, {"Content-Type": "application/json"})
                joined = join.getresponse()
                reply = joined.read()
                if joined.status != 200:
                    record(started, f"join HTTP {joined.status}: {reply[:60].decode(errors='replace')}")
                    continue
                stream.request("GET", f"/gradio_api/queue/data?session_hash={session}")
                events = stream.getresponse()
                outcome = "no answer"
                for line in iter(events.readline, b""):
                    if not line.startswith(b"data:"):
                        continue
                    message = json.loads(line[5:])
                    if message.get("msg") == "process_completed":
                        data = (message.get("output") or {}).get("data") or [None]
                        ok = message.get("success") and isinstance(data[0], dict) and "answerable" in data[0]
                        outcome = None if ok else f"failed: {str(message.get('output'))[:60]}"
                    elif message.get("msg") == "unexpected_error":
                        outcome = f"unexpected_error: {str(message.get('message'))[:60]}"
                events.read()
                record(started, outcome)
            except (OSError, http.client.HTTPException, ValueError) as error:
                record(started, type(error).__name__)
                join.close()
                stream.close()
        join.close()
        stream.close()

    return client_loop


def gradio_client_users(url: str, questions: list[tuple[str, list[dict]]]):
    def client_loop(n: int, record, ready, deadline) -> None:
        from gradio_client import Client

        try:
            client = Client(url, verbose=False)
        except Exception as error:  # noqa: BLE001 — counted; the other clients carry on
            record(time.perf_counter(), f"connect: {type(error).__name__}")
            ready.wait()
            return
        ready.wait()
        number = n * 7  # each client starts elsewhere in the questions
        while time.perf_counter() < deadline[0]:
            question, history = questions[number % len(questions)]
            number += 1
            started = time.perf_counter()
            job = client.submit(question, history, api_name="/ask")
            try:
                result = job.result(timeout=REQUEST_TIMEOUT)
            except Exception as error:  # noqa: BLE001 — every failure is a data point
                job.cancel()
                text = (str(error).strip().splitlines() or [""])[0][:60]
                record(started, f"{type(error).__name__}: {text}" if text else type(error).__name__)
                continue
            record(started, None if isinstance(result, dict) and "answerable" in result else "not an answer object")

    return client_loop


def table(runs: list[Run]) -> str:
    rows = ["| through | clients | seconds | answered / sent | answers/s | p50 s | p95 s | max s | errors "
            "| server tracebacks | load average (1 min) | CPU stolen by host |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        errors = "; ".join(f"{n}× {text}" for text, n in r.errors.most_common(3)) or "0"
        rows.append(f"| {r.name} | {r.clients} | {r.seconds_asked:.0f} | {r.answered} / {r.sent} | {r.throughput:.1f} "
                    f"| {r.percentile(50):.2f} | {r.percentile(95):.2f} | {max(r.latencies, default=float('nan')):.2f} "
                    f"| {errors} | {r.server_tracebacks} | {r.load_average:.1f} | {r.steal:.0%} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50, help="API clients at once (default 50)")
    parser.add_argument("--seconds", type=float, default=45, help="seconds of API load (default 45)")
    parser.add_argument("--chat-clients", type=int, default=50, help="chat page users at once (default 50)")
    parser.add_argument("--chat-seconds", type=float, default=45, help="seconds of chat load (default 45)")
    parser.add_argument("--only", choices=["api", "chat"], help="run one of the two")
    parser.add_argument("--gradio-client", action="store_true",
                        help="chat users are gradio_client Clients (about 0.1 s of client CPU a question, on the "
                             "server's machine) instead of browser-like ones speaking the queue protocol")
    parser.add_argument("--workers", type=int, help="the server's answer workers (default: app.py's, one per core)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    if min(args.clients, args.chat_clients) < 1 or min(args.seconds, args.chat_seconds) <= 0:
        parser.error("--clients and --seconds must be positive")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from assistant.config import Settings

    questions = eval_questions()
    from assistant.workers import default_workers

    # The server as `make run` starts it (tests/server.py's own default is no workers).
    workers = args.workers if args.workers is not None else default_workers()
    env = {"ASSISTANT_FEEDBACK_URL": "", "ASSISTANT_WORKERS": str(workers)}
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        log = Path(tmp) / "server.log"
        try:
            server = wait_until_up(launch_server(Settings().index_dir, Path(tmp) / "feedback.sqlite3", log, env))
        except ServerFailed as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        try:
            chat = (("chat page queue (/ask), gradio_client users", gradio_client_users) if args.gradio_client
                    else ("chat page queue (/ask), browser-like users", chat_clients))
            plan = [("api", "JSON API /api/ask", args.clients, args.seconds, api_clients),
                    ("chat", chat[0], args.chat_clients, args.chat_seconds, chat[1])]
            for key, name, clients, seconds, make in plan:
                if args.only in (None, key):
                    before = log.read_text(errors="replace").count("Traceback")
                    run = Run(name, clients, seconds)
                    drive(run, make(server.url, questions))
                    run.server_tracebacks = log.read_text(errors="replace").count("Traceback") - before
                    runs.append(run)
                    print(f"{name}: {run.throughput:.1f} answers/s, p95 {run.percentile(95):.2f} s", file=sys.stderr)
        finally:
            server.stop()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; the clients run on it too\n")
    print(table(runs))
    if args.json:
        args.json.write_text(json.dumps([{**asdict(r), "errors": dict(r.errors), "answers_per_s": r.throughput,
                                          "p50_s": r.percentile(50), "p95_s": r.percentile(95)} for r in runs],
                                        ensure_ascii=False, indent=1), encoding="utf-8")
    return 1 if any(r.errors or r.server_tracebacks for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
