"""规划问答 web page: `python app.py [--host HOST] [--port PORT] [--concurrency N] [--queue-size N]`
(what `make run` starts).

Serves the citizen chat tab on 127.0.0.1:7860 by default; GRADIO_SERVER_NAME,
GRADIO_SERVER_PORT, ASSISTANT_QUEUE_CONCURRENCY and ASSISTANT_QUEUE_MAX_SIZE are
honoured, and the flags win over them (the queue defaults are explained at
QUEUE_CONCURRENCY). The model and index load once at start (the index is built first
when missing).

Tabs: the chat tab (assistant/chat_page.py), then "规划承诺", the commitments ledger
(assistant/commitments_tab.py), built from the ledger the engine already holds.
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
import sys  # noqa: E402

import gradio as gr  # noqa: E402

from assistant.chat_page import CSS, HEAD, TITLE, ChatPage  # noqa: E402
from assistant.commitments_tab import build_commitments_tab  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.engine import PlanAssistant  # noqa: E402
from assistant.feedback import FeedbackStore  # noqa: E402

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


def build_app(page: ChatPage) -> gr.Blocks:
    with gr.Blocks(title=TITLE, fill_width=False) as demo:
        with gr.Tabs():
            with gr.Tab("规划问答", id="chat"):
                page.render()
            build_commitments_tab(page.assistant.ledger)
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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    from assistant.embeddings import ModelUnavailable

    settings = Settings()
    try:
        assistant = PlanAssistant.load(settings)
    except ModelUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    page = ChatPage(assistant, FeedbackStore(settings.feedback_db), settings)
    page.warm_up()
    demo = build_app(page)
    concurrency, queue_size = max(1, args.concurrency), max(0, args.queue_size)
    demo.queue(default_concurrency_limit=concurrency, max_size=queue_size or None)
    log.info("queue: %d answered at once, %s", concurrency,
             f"at most {queue_size} waiting" if queue_size else "no limit on waiting")
    log.info("feedback is saved to %s", settings.feedback_db)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        show_error=False,  # errors reach the page as friendly messages, never tracebacks
        theme=gr.themes.Soft(font=FONTS, font_mono=MONO_FONTS),
        css=CSS,
        head=HEAD,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
