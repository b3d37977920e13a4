"""Load on the chat server: many gradio_client users asking at once through `/ask`.

    python -m bench.load [--clients 20] [--questions 300] [--concurrency 1,2,4,8]
                         [--queue-size N,...] [--seconds 21] [--rounds 3] [--json PATH]

One real server (app.py, the repository's index, a throwaway feedback database, a free
loopback port) per queue setting — every --concurrency × --queue-size pair — all
started first. Then, round by round, each server in turn gets `--clients` threads,
each with its own gradio_client Client, sending eval questions (eval/dev.jsonl,
with their histories, round robin) until its share of `--questions` is sent or its
share of `--seconds` has passed. Taking turns in short rounds spreads whatever else
the machine is doing over all settings alike; the spread of the rounds and the CPU
time the host took away (steal) are printed so that a noisy run shows as one. Then
the servers are stopped and one markdown table is printed: answers per second,
latency as the client sees it (queue wait included), errors, and tracebacks in each
server's log.
"""

from __future__ import annotations

import argparse
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

from app import QUEUE_CONCURRENCY, QUEUE_MAX_SIZE
from tests.server import ROOT, Server, ServerFailed, launch_server, wait_until_up

REQUEST_TIMEOUT = 30  # seconds; a request still unanswered then counts as an error


@dataclass
class Run:
    """Everything measured for one queue setting, over all rounds."""

    concurrency: int
    queue_size: int  # 0: no limit
    clients: int
    sent: int = 0
    answered: int = 0
    seconds: float = 0.0  # summed over rounds: first request sent to last reply
    round_rates: list[float] = field(default_factory=list)  # answers/s of each round
    steal: list[float] = field(default_factory=list)  # share of CPU time the host took, per round
    latencies: list[float] = field(default_factory=list)  # seconds, answered requests only
    errors: Counter = field(default_factory=Counter)  # first line of each error → count
    server_tracebacks: int = 0

    @property
    def throughput(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

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


def drive(url: str, run: Run, questions: list[tuple[str, list[dict]]], numbers: range, limit_s: float) -> None:
    """One round: `run.clients` threads, one Client each, share the questions `numbers`;
    none is sent after `limit_s`, and none waits longer than REQUEST_TIMEOUT."""
    from gradio_client import Client

    lock = threading.Lock()
    taken = iter(numbers)
    ready = threading.Barrier(run.clients + 1)
    deadline = [float("inf")]  # set once every client is connected
    first_sent, last_reply, answered = [float("inf")], [0.0], [0]

    def record(error: str | None = None, latency: float | None = None) -> None:
        with lock:
            if error is not None:
                run.errors[error] += 1
            else:
                answered[0] += 1
                run.latencies.append(latency)
                last_reply[0] = max(last_reply[0], time.perf_counter())

    def client_loop() -> None:
        try:
            client = Client(url, verbose=False)
        except Exception as error:  # noqa: BLE001 — counted; the other clients carry on
            record(f"connect: {type(error).__name__}")
            ready.wait()
            return
        ready.wait()
        while True:
            with lock:
                number = next(taken, None)
                if number is None or time.perf_counter() >= deadline[0]:
                    return
                run.sent += 1
                started = time.perf_counter()
                first_sent[0] = min(first_sent[0], started)
            question, history = questions[number % len(questions)]
            job = client.submit(question, history, api_name="/ask")
            try:
                result = job.result(timeout=REQUEST_TIMEOUT)
            except Exception as error:  # noqa: BLE001 — every failure is a data point
                job.cancel()
                text = (str(error).strip().splitlines() or [""])[0][:80]
                record(f"{type(error).__name__}: {text}" if text else type(error).__name__)
                continue
            if isinstance(result, dict) and "answerable" in result:
                record(latency=time.perf_counter() - started)
            else:
                record("not an answer object")

    threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(run.clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    total_before, steal_before = cpu_times()
    deadline[0] = time.perf_counter() + limit_s
    for thread in threads:
        thread.join(timeout=max(0.0, deadline[0] - time.perf_counter()) + REQUEST_TIMEOUT + 5)
    total_after, steal_after = cpu_times()
    seconds = max(0.0, last_reply[0] - first_sent[0]) if answered[0] else 0.0
    run.answered += answered[0]
    run.seconds += seconds
    run.round_rates.append(answered[0] / seconds if seconds else 0.0)
    run.steal.append((steal_after - steal_before) / max(1, total_after - total_before))


def measure(settings: list[tuple[int, int]], clients: int, questions_per_setting: int, seconds_per_setting: float,
            rounds: int, questions: list[tuple[str, list[dict]]]) -> list[Run]:
    from assistant.config import Settings

    runs = [Run(concurrency, queue_size, clients) for concurrency, queue_size in settings]
    per_round = max(1, questions_per_setting // rounds)
    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        servers: list[Server] = []
        started = time.perf_counter()
        try:
            for n, run in enumerate(runs):  # all at once: the start is the slow part
                servers.append(launch_server(
                    Settings().index_dir, Path(tmp) / f"feedback-{n}.sqlite3", Path(tmp) / f"server-{n}.log",
                    env={"ASSISTANT_QUEUE_CONCURRENCY": str(run.concurrency),
                         "ASSISTANT_QUEUE_MAX_SIZE": str(run.queue_size)}))
            for server in servers:
                wait_until_up(server)
            print(f"{len(servers)} servers up in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            for round_number in range(rounds):
                # Each round asks the next questions of the eval set, the same ones on every server.
                numbers = range(round_number * per_round, (round_number + 1) * per_round)
                for run, server in zip(runs, servers):
                    drive(server.url, run, questions, numbers, seconds_per_setting / rounds)
                    print(f"round {round_number + 1}/{rounds}, concurrency {run.concurrency}, queue size "
                          f"{run.queue_size or 'no limit'}: {run.round_rates[-1]:.1f} answers/s, "
                          f"steal {run.steal[-1]:.0%}", file=sys.stderr)
        finally:
            for server in servers:
                server.stop()
        for run, server in zip(runs, servers):
            run.server_tracebacks = server.log.read_text(errors="replace").count("Traceback")
    return runs


def table(runs: list[Run]) -> str:
    rows = [("| concurrency limit | queue size | clients | answered / sent | answers/s (rounds) | p50 s | p95 s "
             "| max s | errors | server tracebacks | CPU stolen by host |"),
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        errors = "; ".join(f"{n}× {text}" for text, n in r.errors.most_common(3)) or "0"
        spread = "–".join(f"{rate:.1f}" for rate in (min(r.round_rates), max(r.round_rates)))
        default = " (default)" if (r.concurrency, r.queue_size) == (QUEUE_CONCURRENCY, QUEUE_MAX_SIZE) else ""
        rows.append(f"| {r.concurrency}{default} | {r.queue_size or 'no limit'} | {r.clients} "
                    f"| {r.answered} / {r.sent} "
                    f"| {r.throughput:.1f} ({spread}) | {r.percentile(50):.2f} | {r.percentile(95):.2f} "
                    f"| {max(r.latencies, default=float('nan')):.2f} | {errors} | {r.server_tracebacks} "
                    f"| {max(r.steal):.0%} |")
    return "\n".join(rows)


def int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of whole numbers: {text!r}") from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"give one or more whole numbers ≥ 0: {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20, help="users asking at once (default 20)")
    parser.add_argument("--questions", type=int, default=300,
                        help="at most this many questions per setting, over all rounds (default 300)")
    parser.add_argument("--concurrency", type=int_list, default=[1, 2, 4, 8],
                        help="queue concurrency limits to measure, comma-separated (default 1,2,4,8)")
    parser.add_argument("--queue-size", type=int_list, default=[QUEUE_MAX_SIZE],
                        help=f"queue max sizes to measure, comma-separated; 0 for no limit "
                             f"(default: app.py's, {QUEUE_MAX_SIZE})")
    parser.add_argument("--seconds", type=float, default=21,
                        help="no question is sent after this many seconds per setting, over all rounds "
                             "(default 21); server start not included")
    parser.add_argument("--rounds", type=int, default=3, help="turns each setting takes (default 3)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.questions < 1 or args.seconds <= 0 or args.rounds < 1:
        parser.error("--clients, --questions, --seconds and --rounds must be positive")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    settings = [(max(1, c), q) for c in args.concurrency for q in args.queue_size]
    try:
        runs = measure(settings, args.clients, args.questions, args.seconds, args.rounds, eval_questions())
    except ServerFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
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
