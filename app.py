"""规划问答 web page: `python app.py [--host HOST] [--port PORT] [--concurrency N] [--queue-size N]`
(what `make run` starts).

Serves the citizen chat tab on 127.0.0.1:7860 by default; GRADIO_SERVER_NAME,
GRADIO_SERVER_PORT, ASSISTANT_QUEUE_CONCURRENCY and ASSISTANT_QUEUE_MAX_SIZE are
honoured, and the flags win over them (the queue defaults are explained at
QUEUE_CONCURRENCY). The model and index load once at start (the index is built first
when missing).

Tabs: the chat tab (assistant/chat_page.py), then "规划承诺", the commitments ledger
(assistant/commitments_tab.py), built from the ledger the engine already holds.

Limits against abuse (assistant/web_guard.py: closed routes, Host allow-list, body and
queue limits, bounded sessions and logs, one temporary folder removed on exit) and the
exit statuses of faults (assistant/faults.py) are in the README, "Server limits and faults".
"""

from __future__ import annotations

import os

# No network here: keep Gradio from phoning home; models load from installed packages.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import logging  # noqa: E402
import sqlite3  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from assistant.api import JsonApi  # noqa: E402
from assistant.chat_page import CSS, HEAD, TITLE, ChatPage  # noqa: E402
from assistant.commitments_tab import build_commitments_tab  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.engine import PlanAssistant  # noqa: E402
from assistant.faults import EXIT_MODEL_UNAVAILABLE, CannotListen, CannotWrite, Fault  # noqa: E402
from assistant.feedback import FeedbackStore, open_store, store_target  # noqa: E402
from assistant.web_guard import (Guard, LineLimit, QueueGuard, ServerLimits, TempFolder,  # noqa: E402
                                 expire_idle_sessions, exposure_warning, host_allow_list, wait_until_stopped)
from assistant.workers import PooledAssistant, default_workers, start_pool  # noqa: E402

log = logging.getLogger("app")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
# The Gradio queue, as measured by `python -m bench.load` (20 gradio_client users on the
# same 2-core machine as the server, eval questions through /ask, settings taking turns):
#   concurrency limit      1      2      4      8
#   answers/s, run 1     9.9    9.5    9.3    9.1    (p95 2.8 / 3.3 / 3.4 / 3.5 s)
#   answers/s, run 2    11.8   11.9   11.4   10.8    (p95 2.4 / 2.7 / 2.3 / 3.0 s)
# while one setting's rounds alone ranged ±15%: no real difference (8 a little worse). The
# extractive answers take the engine lock (ChatPage.ask) one at a time and are CPU-bound,
# so the limit only decides how many wait inside the app instead of in the queue. 4 is
# kept for the LLM backend: its streamed chat answers do not take that lock and spend
# seconds waiting on the model server, and with 1 every visitor would wait for the last.
QUEUE_CONCURRENCY = 4
# At most 100 waiting: at the 9–12 answers/s above, 8–11 s for the last in line. 40 users at
# once fit (10.3 answers/s, p95 6.4 s, no errors); past it a visitor is told at once
# "Queue is full! Please try again." instead of the wait growing without end (with a
# queue of 10, 40 users got 163 such refusals in 216 requests). 0 means no limit.
QUEUE_MAX_SIZE = 100
# System fonts only: the default theme would fetch web fonts, and CJK needs local ones anyway.
FONTS = ["Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", "sans-serif"]
MONO_FONTS = ["Noto Sans Mono CJK SC", "DejaVu Sans Mono", "monospace"]


def build_app(page: ChatPage, downloads: Path | None = None) -> gr.Blocks:
    # Gradio's copies of download files older than an hour are deleted every 10 minutes.
    with gr.Blocks(title=TITLE, fill_width=False, delete_cache=(600, 3600)) as demo:
        with gr.Tabs():
            with gr.Tab("规划问答", id="chat"):
                page.render()
            build_commitments_tab(page.assistant.ledger, downloads)
    return demo


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="规划问答: the chat page")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME") or DEFAULT_HOST,
                        help="address to listen on (default: $GRADIO_SERVER_NAME or 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT") or DEFAULT_PORT),
                        help="port (default: $GRADIO_SERVER_PORT or 7860)")
    parser.add_argument("--concurrency", type=int,
                        default=int(os.environ.get("ASSISTANT_QUEUE_CONCURRENCY") or QUEUE_CONCURRENCY),
                        help=f"requests of one kind answered at once (default: $ASSISTANT_QUEUE_CONCURRENCY "
                             f"or {QUEUE_CONCURRENCY})")
    parser.add_argument("--queue-size", type=int,
                        default=int(os.environ.get("ASSISTANT_QUEUE_MAX_SIZE") or QUEUE_MAX_SIZE),
                        help=f"requests that may wait; more are turned away at once, 0 for no limit "
                             f"(default: $ASSISTANT_QUEUE_MAX_SIZE or {QUEUE_MAX_SIZE})")
    parser.add_argument("--per-client", type=int,
                        default=int(os.environ.get("ASSISTANT_QUEUE_PER_CLIENT") or 0),
                        help="requests one client address may have waiting or running; more are turned "
                             "away (default: $ASSISTANT_QUEUE_PER_CLIENT or half the queue size)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("ASSISTANT_WORKERS") or default_workers()),
                        help="processes that compute answers, so the server process only serves requests; "
                             "0 answers in the server process (default: $ASSISTANT_WORKERS or one per core)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # No log line longer than a few KB, whatever a library prints (README, "Server limits and faults").
    sys.stderr, sys.stdout = LineLimit(sys.stderr), LineLimit(sys.stdout)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    from assistant.embeddings import ModelUnavailable
    from assistant.outline import read_plan

    try:
        limits = ServerLimits.from_env()
    except Fault as error:
        print(f"error: {error}", file=sys.stderr)
        return error.status
    allowed_hosts = host_allow_list(args.host, limits.allowed_hosts)
    if warning := exposure_warning(args.host, args.port, allowed_hosts):
        print(warning, file=sys.stderr)
    settings = Settings()
    try:
        read_plan(settings.plan_path)  # a plan fault is one line before the slow loads (exit 4)
        store = open_feedback(store_target(settings))  # ASSISTANT_FEEDBACK_URL, else the SQLite file
        assistant = PlanAssistant.load(settings)
    except ModelUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_MODEL_UNAVAILABLE
    except Fault as error:
        print(f"error: {error}", file=sys.stderr)
        return error.status
    # Answers are computed in worker processes (assistant/workers.py); the page and the JSON API
    # (assistant/api.py, /api/ask, outside Gradio's queue) both send their questions there.
    assistant = PooledAssistant(assistant, start_pool(settings, args.workers))
    api = JsonApi(assistant, settings)
    page = ChatPage(assistant, store, settings)
    page.warm_up()
    temp = TempFolder()  # everything the server writes for itself; removed when it stops
    use_temp_folder(temp.path / "gradio")
    try:
        # Inside Gradio's cache folder: served from there as they are, not copied again for each selection.
        demo = build_app(page, temp.path / "gradio" / "downloads")
        concurrency, queue_size = max(1, args.concurrency), max(0, args.queue_size)
        # api_open=False: the direct /gradio_api/run/… routes would skip the queue and its limits.
        # status_update_rate=1: each waiting visitor's place in line is sent once a second, not
        # after every answer to everyone waiting (50 waiting × 50 answers/s = 2,500 messages a
        # second); measured with `python -m bench.load --only chat`, 50 users: p95 1.0–1.4 s
        # instead of 1.7 s.
        demo.queue(default_concurrency_limit=concurrency, max_size=queue_size or None, api_open=False,
                   status_update_rate=1)
        per_client = args.per_client if args.per_client > 0 else max(1, (queue_size or 100) // 2)
        QueueGuard(demo, per_client, api_fns={i for i, fn in demo.fns.items() if fn.api_name == "ask"})
        log.info("queue: %d answered at once, %s, at most %d per client address", concurrency,
                 f"at most {queue_size} waiting" if queue_size else "no limit on waiting", per_client)
        log.info("feedback is saved to %s", store)
        guard = Middleware(Guard, allowed_hosts=allowed_hosts, max_body_bytes=limits.max_body_bytes,
                           max_in_flight=limits.max_in_flight)
        try:
            demo.launch(
                server_name=args.host,
                server_port=args.port,
                share=False,  # never a public share link, whatever GRADIO_SHARE says
                enable_monitoring=False,  # no /monitoring (the Guard closes the route as well)
                mcp_server=False,
                ssr_mode=False,
                run_history=False,
                state_session_capacity=limits.max_sessions,
                prevent_thread_lock=True,  # wait_until_stopped: a SIGTERM still removes the temporary folder
                show_error=False,  # errors reach the page as friendly messages, never tracebacks
                theme=gr.themes.Soft(font=FONTS, font_mono=MONO_FONTS),
                css=CSS,
                head=HEAD,
                app_kwargs={"routes": api.routes(), "middleware": [guard]},
            )
        except OSError as error:
            reason = str(error.strerror or error).split(". ")[0]  # the rest is advice about Gradio's settings
            raise CannotListen(f"cannot listen on {args.host}:{args.port}: {reason}") from None
        expire_idle_sessions(demo, limits.session_idle_seconds)
        wait_until_stopped(demo)
    except Fault as error:
        print(f"error: {error}", file=sys.stderr)
        return error.status
    finally:
        temp.remove()
    return 0


def use_temp_folder(folder: Path) -> None:
    """Gradio's cache (the CSV downloads it serves) goes into `folder`. GRADIO_TEMP_DIR is read
    when a Blocks is made; the folder Gradio makes at launch for its editor's history was
    fixed when gradio was imported, so that name is pointed there as well."""
    import gradio.route_utils
    import gradio.routes

    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    for module in (gradio.route_utils, gradio.routes):
        if hasattr(module, "DEFAULT_TEMP_DIR"):
            module.DEFAULT_TEMP_DIR = str(folder)


def open_feedback(target: str) -> FeedbackStore:
    """The feedback database (a SQLite path or a postgresql:// URL), or CannotWrite in one line
    (exit 5) when it cannot be created or reached."""
    try:
        return open_store(target)
    except (OSError, sqlite3.Error) as error:
        raise CannotWrite(f"cannot write the feedback database {target}: {error}") from None
    except Exception as error:  # noqa: BLE001 — a PostgreSQL server that refuses, a bad URL: one line
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CannotWrite(f"cannot open the feedback database: {reason}") from None


if __name__ == "__main__":
    sys.exit(main())
