"""The chat server's limits against abuse (app.py wires them in; README, "Server limits and faults").

Gradio serves much more than the page needs. What is kept, and how it is bounded:

- `Guard`, an ASGI middleware in front of every route: a Host header outside the
  allow-list is refused (400); routes the page never uses are closed (404): uploads,
  the direct `/gradio_api/run/…` routes that skip the queue, `/monitoring`, component
  server functions, media streams, profiling, run history, the proxy; a request body
  over `max_body_bytes` is refused (413) before it is read; more than
  `max_in_flight` requests with a body at once are refused (503, Retry-After). The JSON
  API under /api/ has limits of its own and is left to them. Each refusal is one log
  line, without the body.
- `QueueGuard`, around Gradio's queue: a request with too few input values is refused
  with one line instead of a traceback that quotes the whole request; one client
  address may have at most `per_client` requests waiting or running; and the waiting
  line is served round-robin across addresses, so a client that sends forty questions
  delays another's one question by at most one answer per address, not forty.
- `expire_idle_sessions`: Gradio keeps every session's state (and a copy of each
  component's last input and output value) until 10,000 sessions exist; app.py lowers
  that to `max_sessions`, and sessions idle longer than `session_idle_seconds` (five
  minutes for those holding no conversation: API calls, the ledger tab) are dropped whole.
- `LineLimit`: no line written to the log is longer than a few kilobytes, whatever a
  library prints (Gradio quotes request data in some of its errors).
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import logging
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from assistant.faults import BadSetting, one_line

log = logging.getLogger("app.guard")

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# A question is at most 500 characters, but API callers may send a long history: the
# hostile-input suite sends turns of 100,000 Chinese characters (300 KB as UTF-8).
MAX_BODY_BYTES = 512 * 1024
# Requests with a body (POST…) being handled at once: each holds at most one body in memory.
# Page loads (GET: assets, config) are not counted: a browser fetches many at once.
MAX_IN_FLIGHT = 64
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Sessions: each holds the conversation and Gradio's copy of every component's value
# (about 70 KB with a filtered ledger table, more with a long conversation).
MAX_SESSIONS = 1000
SESSION_IDLE_SECONDS = 3600
# A session without a conversation (API calls, the ledger tab) keeps nothing a later call
# needs, only Gradio's copy of the last input values: it goes after this much idle time.
STATELESS_IDLE_SECONDS = 300
# Input to the page's own handlers (a question, a search, a comment), in characters of
# JSON: generous, so that a pasted text still gets the page's "too long" message.
MAX_PAGE_INPUT = 20_000
MAX_LOG_LINE = 2000  # characters

# Routes of Gradio 6 that this page never calls (path prefixes; all methods).
CLOSED_PREFIXES = (
    "/gradio_api/upload",  # uploads (and their progress): the page takes no files
    "/gradio_api/run/", "/gradio_api/api/",  # direct calls that skip the queue and its limits
    "/monitoring", "/gradio_api/monitoring",
    "/gradio_api/component_server",  # server functions of components; none here
    "/gradio_api/stream/",  # media streams
    "/gradio_api/process_recording", "/gradio_api/vibe-", "/gradio_api/undo-vibe-edit", "/gradio_api/vibe-code",
    "/gradio_api/dev/", "/gradio_api/profiling", "/gradio_api/run-history", "/gradio_api/runs",
    "/gradio_api/proxy=", "/gradio_api/mcp",
)
# Long-lived responses that a page or client keeps open: not counted as in flight.
STREAMS = re.compile(r"^/gradio_api/(queue/data|heartbeat/|call/(v2/)?[^/]+/[^/]+$)")
# The JSON API (assistant/api.py) bounds its own bodies and load, with its own replies.
OWN_LIMITS = ("/api/",)


@dataclass(frozen=True)
class ServerLimits:
    max_body_bytes: int = MAX_BODY_BYTES
    max_in_flight: int = MAX_IN_FLIGHT
    max_sessions: int = MAX_SESSIONS
    session_idle_seconds: float = SESSION_IDLE_SECONDS
    allowed_hosts: str = ""  # extra host names, comma-separated (ASSISTANT_ALLOWED_HOSTS)

    @classmethod
    def from_env(cls) -> "ServerLimits":
        """The limits, each settable by its environment variable; BadSetting (one line) for
        a value that is not a positive number."""
        return cls(
            max_body_bytes=int(_env_number("ASSISTANT_MAX_BODY_BYTES", MAX_BODY_BYTES)),
            max_in_flight=int(_env_number("ASSISTANT_MAX_IN_FLIGHT", MAX_IN_FLIGHT)),
            max_sessions=int(_env_number("ASSISTANT_MAX_SESSIONS", MAX_SESSIONS)),
            session_idle_seconds=_env_number("ASSISTANT_SESSION_IDLE_SECONDS", SESSION_IDLE_SECONDS),
            allowed_hosts=os.environ.get("ASSISTANT_ALLOWED_HOSTS", ""),
        )


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise BadSetting(f"{name} must be a positive number, not {one_line(text, 40)!r}")
    return value


# -- where the server listens, and which Host headers it answers ------------------------------


def is_loopback(host: str) -> bool:
    """Whether an address (or "localhost") is reachable only from this machine."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_allow_list(bind_host: str, configured: str) -> frozenset[str] | None:
    """The Host names the server answers, or None for any.

    The loopback names are always allowed (Gradio calls itself by them at start). Bound to
    loopback, nothing else is, unless configured: a page on 127.0.0.1 must not answer a
    foreign name (DNS rebinding). Bound beyond loopback, the configured names are added; with
    none configured any Host is answered (the machine's names are not known here)."""
    names = frozenset(_host_name(name) for name in configured.split(",") if name.strip())
    if names:  # and the address it listens on, by which Gradio calls itself at start
        own = {_host_name(bind_host)} - {"0.0.0.0", "::", ""}
        return LOOPBACK_NAMES | names | own
    return LOOPBACK_NAMES if is_loopback(bind_host) else None


def exposure_warning(bind_host: str, port: int, allowed: frozenset[str] | None) -> str | None:
    """One line when the page is reachable from other machines; None on loopback."""
    if is_loopback(bind_host):
        return None
    names = ("answering only the host names " + ", ".join(sorted(allowed - LOOPBACK_NAMES))
             if allowed is not None else "answering any host name (set ASSISTANT_ALLOWED_HOSTS to limit them)")
    return (f"warning: serving on {bind_host}:{port} makes the chat page reachable from other machines, "
            f"without a password, {names}")


def _host_name(host: str) -> str:
    """"Example.org:7860" → "example.org"; "[::1]:7860" → "::1"."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


# -- the middleware ----------------------------------------------------------------------------


class Guard:
    """ASGI middleware: Host allow-list, closed routes, body cap, in-flight cap (see the module)."""

    def __init__(self, app, allowed_hosts: frozenset[str] | None = None, max_body_bytes: int = MAX_BODY_BYTES,
                 max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.max_body_bytes = max_body_bytes
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        if self.allowed_hosts is not None and _host_name(host) not in self.allowed_hosts:
            await self._refuse(scope, send, 400, "this host name is not served here",
                               f"host {host[:60]!r} not allowed")
            return
        if path.startswith(CLOSED_PREFIXES):
            await self._refuse(scope, send, 404, "not found", "closed route")
            return
        if (scope["type"] != "http" or scope.get("method") not in BODY_METHODS or STREAMS.match(path)
                or path.startswith(OWN_LIMITS)):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            await self._refuse(scope, send, 503, "the server is busy, please try again in a moment",
                               f"{self.in_flight} requests in flight", retry_after=1)
            return
        self.in_flight += 1
        try:
            length = headers.get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
                await self._refuse(scope, send, 413, f"request body over {self.max_body_bytes} bytes",
                                   f"body of {length[:20].decode('latin-1')} bytes")
                return
            body = await self._read_body(receive)
            if body is None:
                await self._refuse(scope, send, 413, f"request body over {self.max_body_bytes} bytes",
                                   "body over the limit (chunked)")
                return
            await self.app(scope, _replay(body, receive), send)
        finally:
            self.in_flight -= 1

    async def _read_body(self, receive) -> bytes | None:
        """The whole body, or None as soon as it passes the limit (the rest is never read)."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)  # the client went away; the app will see that too
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refuse(self, scope, send, status: int, message: str, reason: str, retry_after: int | None = None):
        client = (scope.get("client") or ("?",))[0]
        log.warning("refused %s %s from %s: %s (%d)", scope.get("method", "WS"), scope.get("path", "")[:80],
                    client, reason, status)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps({"error": message}, ensure_ascii=False).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        if retry_after is not None:
            headers.append((b"retry-after", str(retry_after).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive):
    """A receive() that hands the app the body read already, then what the client sends next."""
    sent = False

    async def replayed():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


# -- the queue ---------------------------------------------------------------------------------


class QueueGuard:
    """Wraps a launched-to-be Blocks' queue (after `demo.queue()`): input checks, a limit per
    client address, round-robin order across addresses (see the module docstring).

    Gradio keeps each request's input values in its session until the session goes, so the
    page's own handlers take at most `max_page_input` characters of input; only the API
    functions in `api_fns` take up to the body limit (a long conversation history)."""

    def __init__(self, blocks, per_client: int, api_fns: set[int] = frozenset(),
                 max_page_input: int = MAX_PAGE_INPUT) -> None:
        self.blocks = blocks
        self.queue = blocks._queue
        self.per_client = max(1, per_client)
        self.api_fns = set(api_fns)
        self.max_page_input = max_page_input
        self._push = self.queue.push
        self.queue.push = self.push

    async def push(self, body, request, username):
        fn = self.blocks.fns.get(body.fn_index) if isinstance(body.fn_index, int) else None
        client = _client(request, body.session_hash)
        if fn is None:
            return self._refuse(client, "no such function", "error")
        if not isinstance(body.data, list) or len(body.data) < len(fn.inputs):
            got = len(body.data) if isinstance(body.data, list) else 0
            return self._refuse(client, f"{fn.api_name or fn.name} takes {len(fn.inputs)} input values, got {got}",
                                "error")
        if body.fn_index not in self.api_fns:
            size = len(json.dumps(body.data, ensure_ascii=False, default=str))
            if size > self.max_page_input:
                return self._refuse(client, f"input too long for {fn.name} ({size} characters, at most "
                                            f"{self.max_page_input})", "error")
        pending = sum(1 for event in self._pending() if _client(event.request, event.session_hash) == client)
        if pending >= self.per_client:
            return self._refuse(client, f"too many requests waiting from this address ({pending}); "
                                        "please wait for the answers", "queue_full")
        result = await self._push(body, request, username)
        if result[0] and fn.concurrency_id in self.queue.event_queue_per_concurrency_id:
            self._round_robin(self.queue.event_queue_per_concurrency_id[fn.concurrency_id].queue)
            if self.queue.live_updates:  # tell each waiting client its new place in line
                self.queue.broadcast_estimations(fn.concurrency_id)
        return result

    def _pending(self):
        for event_queue in self.queue.event_queue_per_concurrency_id.values():
            yield from event_queue.queue
        for job in self.queue.active_jobs:
            yield from job or ()

    def _round_robin(self, waiting: list) -> None:
        """Order the waiting line by each event's round (how many of its client's events run or
        wait ahead of it), keeping the present order within a round. Called right after an
        append, with no await in between, so the queue's worker never sees it half done."""
        running = Counter(_client(e.request, e.session_hash) for job in self.queue.active_jobs for e in job or ())
        seen: Counter = Counter()
        ranked = []
        for position, event in enumerate(waiting):
            key = _client(event.request, event.session_hash)
            ranked.append((running[key] + seen[key], position, event))
            seen[key] += 1
        waiting[:] = [event for _, _, event in sorted(ranked, key=lambda r: r[:2])]

    @staticmethod
    def _refuse(client: str, message: str, kind: str):
        log.warning("refused a queued request from %s: %s", client, message[:200])
        return False, message, kind


def _client(request, session_hash: str | None) -> str:
    """The client's address (X-Forwarded-For only from a trusted proxy: uvicorn's rule)."""
    address = getattr(getattr(request, "client", None), "host", None)
    return address or f"session {session_hash}"


# -- sessions ----------------------------------------------------------------------------------


def expire_idle_sessions(blocks, idle_seconds: float, stateless_idle_seconds: float = STATELESS_IDLE_SECONDS,
                         every: float | None = None) -> threading.Thread | None:
    """Start a daemon thread that drops sessions idle longer than `idle_seconds`, or
    `stateless_idle_seconds` for those holding no gr.State value (Gradio's StateHolder
    keeps every session until it holds `state_session_capacity`)."""
    holder = getattr(blocks, "state_holder", None)
    if holder is None or not hasattr(holder, "session_data") or not hasattr(holder, "time_last_used"):
        log.warning("this Gradio keeps sessions differently: idle sessions are not expired")
        return None

    def sweep() -> None:
        while True:
            time.sleep(every or max(1.0, min(60.0, min(idle_seconds, stateless_idle_seconds) / 4)))
            now = time.time()
            # Gradio stamps a session's use just after taking it from session_data, outside this
            # lock; a session idle for the whole limit and used in that instant loses one
            # request, as with Gradio's own eviction when it holds its capacity.
            with holder.lock:
                idle = [session for session, used in list(holder.time_last_used.items())
                        if now - used.timestamp() > (idle_seconds if _holds_state(holder, session)
                                                     else stateless_idle_seconds)]
                for session in idle:
                    holder.session_data.pop(session, None)
                    holder.time_last_used.pop(session, None)

    thread = threading.Thread(target=sweep, name="expire-idle-sessions", daemon=True)
    thread.start()
    return thread


def _holds_state(holder, session: str) -> bool:
    return bool(getattr(holder.session_data.get(session), "state_data", None))


# -- the log -----------------------------------------------------------------------------------


class LineLimit:
    """A text stream (stderr, stdout) whose lines are cut at `limit` characters."""

    def __init__(self, stream, limit: int = MAX_LOG_LINE) -> None:
        self.stream = stream
        self.limit = limit
        self.column = 0
        self.cut = False
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        out = []
        with self.lock:
            for number, part in enumerate(str(text).split("\n")):
                if number:
                    out.append("\n")
                    self.column, self.cut = 0, False
                room = max(0, self.limit - self.column)
                out.append(part[:room])
                self.column += min(len(part), room)
                if len(part) > room and not self.cut:
                    out.append(f" …(cut at {self.limit} characters)")
                    self.cut = True
            self.stream.write("".join(out))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


# -- temporary files ---------------------------------------------------------------------------

TEMP_PREFIX = "plan-qa-"


class TempFolder:
    """The server's one temporary folder (Gradio's cache, CSV downloads): removed on exit.
    The server holds a lock on it while it runs, so a folder left by a server that was
    killed (SIGKILL runs no cleanup) is recognised and removed at the next start."""

    def __init__(self, parent: Path | None = None) -> None:
        parent = Path(parent or tempfile.gettempdir())
        _remove_orphans(parent)
        self.path = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=parent))
        self._lock = open(self.path / ".lock", "w")  # noqa: SIM115 — held for the server's life
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        self._lock.close()


def _remove_orphans(parent: Path) -> None:
    for folder in parent.glob(f"{TEMP_PREFIX}*"):
        try:
            with open(folder / ".lock") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while its server runs
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)


# -- the server's life -------------------------------------------------------------------------


def wait_until_stopped(demo) -> None:
    """Block until SIGTERM, SIGINT or SIGHUP (or the server stops), then close the server,
    so that the caller's cleanup runs (Python's default SIGTERM exits without any)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5) and getattr(demo, "is_running", True):
        pass
    log.info("stopping the server")
    demo.close(verbose=False)
