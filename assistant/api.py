"""The plain JSON HTTP API of ../shared/CONTRACT.md §4, served by the chat server beside the page.

    POST /api/ask           {"question": "...", "history": [{"role", "content"}, ...]} → the answer (§1)
    GET  /api/health        200 {"status": "ok", ...} once the index is loaded
    GET  /api/openapi.json  the OpenAPI document of these two (they are in the server's /openapi.json too)

Answers skip Gradio's queue: the handler validates the request in the server process
(assistant/question.py, nothing heavy) and hands the question to the engine, normally a
pool of worker processes (assistant/workers.py). Every request gets a reply in bounded
time: 400 for bad input and 413 for a body over the limit, both `{"error": "<one line>"}`;
503 with `Retry-After` when more than `max_pending` requests are already waiting or no
worker frees up in time; 429 with `Retry-After` when one client address sends more than
its share (off unless `rate_per_client` is set).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from assistant.config import Settings
from assistant.question import parse_question
from assistant.types import Answer, BadQuestion, Turn
from assistant.workers import Overloaded, PooledAssistant, WorkerFailed, answer_json

log = logging.getLogger(__name__)

VERSION = "1"


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        return default


@dataclass(frozen=True)
class ApiLimits:
    """What one server accepts; each can be set by an environment variable."""

    # A question is at most 500 characters; the history may carry long answers (20 turns are used).
    max_body_bytes: int = field(default_factory=lambda: int(_env_float("ASSISTANT_API_MAX_BODY", 256 * 1024)))
    # Requests answered or waiting at once; more get 503 at once. At ~10 ms an answer per
    # worker, 100 waiting clear in well under a second on two workers.
    max_pending: int = field(default_factory=lambda: int(_env_float("ASSISTANT_API_MAX_PENDING", 100)))
    # Requests per second one client address may send (a burst of twice that); 0: no limit.
    rate_per_client: float = field(default_factory=lambda: _env_float("ASSISTANT_API_RATE", 0))
    retry_after_s: int = 1


# -- the documented shapes (OpenAPI); requests are checked by hand to answer 400, not 422 ----------
# The answer's schema is derived from assistant.types.Answer itself, so it cannot drift from
# what /api/ask returns (CONTRACT §1: fields may be added, never renamed or dropped).


class ErrorBody(BaseModel):
    error: str = Field(description="one line")


class HealthBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: Literal["ok", "unavailable"]
    workers: int = Field(description="answer worker processes alive (0: answers in the server process)")
    chunks: int = Field(description="passages in the loaded index")
    model: str


ASK_REQUEST_SCHEMA = {  # written out: OpenAPI request bodies cannot point at pydantic's $defs
    "type": "object",
    "required": ["question"],
    "properties": {
        "question": {"type": "string", "description": "the question, at most 500 characters"},
        "history": {
            "type": "array",
            "default": [],
            "description": "the conversation so far, oldest first (for follow-ups such as 那交通呢？)",
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "properties": {"role": {"type": "string", "enum": ["user", "assistant"]},
                               "content": {"type": "string"}},
            },
        },
    },
    "example": {"question": "那交通呢？",
                "history": [{"role": "user", "content": "养老床位要新增多少？"},
                            {"role": "assistant", "content": "…"}]},
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again",
                               "schema": {"type": "integer"}}}


class RequestRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class JsonApi:
    """The handlers around one engine: a PlanAssistant, or a PooledAssistant whose answers
    are computed in worker processes. `routes()` are added to the server's FastAPI app."""

    def __init__(self, assistant, settings: Settings | None = None, limits: ApiLimits | None = None) -> None:
        self.assistant = assistant
        self.settings = settings or assistant.settings
        self.limits = limits or ApiLimits()
        self.pending = 0  # requests past the door, answered or waiting (event-loop thread only)
        self._executor = ThreadPoolExecutor(max_workers=max(1, self.limits.max_pending), thread_name_prefix="api-ask")
        self._local_lock = threading.Lock()  # one question at a time when the engine is in this process
        self._buckets: dict[str, tuple[float, float]] = {}  # client address → (tokens, last refill)
        self._routes: list[APIRoute] | None = None

    # -- handlers ----------------------------------------------------------------------

    async def ask(self, request: Request) -> Response:
        refused = self._admit(request)
        if refused is not None:
            return refused
        self.pending += 1
        try:
            try:
                question, history = self._parse(await self._body(request))
                pool = self.assistant.pool if isinstance(self.assistant, PooledAssistant) else None
                if pool is not None:  # straight into the workers' line, no thread of ours waiting
                    body = await asyncio.wait_for(asyncio.wrap_future(pool.submit(question, history, as_json=True)),
                                                  pool.deadline_s)
                else:
                    body = await asyncio.get_running_loop().run_in_executor(self._executor, self._answer, question,
                                                                            history)
            except RequestRefused as error:
                return _error(error.status, str(error))
            except BadQuestion as error:
                return _error(400, f"bad question: {error}")
            except (Overloaded, asyncio.TimeoutError):
                return _error(503, "busy: too many questions at once, try again shortly", self.limits.retry_after_s)
            except WorkerFailed as error:
                return _error(503, f"{error}; try again shortly", self.limits.retry_after_s)
            except ClientDisconnect:
                return _error(400, "the request body was cut off")
            except Exception:
                log.exception("API answer failed")
                return _error(500, "internal error while answering")
            return Response(body, media_type="application/json")
        finally:
            self.pending -= 1

    async def health(self, request: Request) -> Response:
        pool = getattr(self.assistant, "pool", None)
        workers = pool.ready if pool is not None else 0
        index = self.assistant.index
        body = {"status": "ok", "workers": workers, "chunks": len(index.chunks), "model": self.settings.embedding_model,
                "index_built_at": index.manifest.get("built_at"), "pending": self.pending}
        if pool is not None and workers == 0:
            body["status"] = "unavailable"
            return Response(_dumps(body), status_code=503, media_type="application/json",
                            headers={"Retry-After": str(self.limits.retry_after_s)})
        return Response(_dumps(body), media_type="application/json")

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(self.openapi_document())

    # -- steps -------------------------------------------------------------------------

    def _admit(self, request: Request) -> Response | None:
        """503 when too many are waiting, 429 when this client is over its rate; else None."""
        if self.pending >= self.limits.max_pending:
            return _error(503, f"busy: {self.pending} questions waiting, try again shortly", self.limits.retry_after_s)
        rate = self.limits.rate_per_client
        if rate > 0:
            client = request.client.host if request.client else "?"
            now = time.monotonic()
            burst = max(1.0, 2 * rate)
            tokens, last = self._buckets.get(client, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            if tokens < 1:
                self._buckets[client] = (tokens, now)
                wait = max(1, math.ceil((1 - tokens) / rate))
                return _error(429, f"too many requests from {client}: at most {rate:g} a second", wait)
            self._buckets[client] = (tokens - 1, now)
            if len(self._buckets) > 10_000:  # forget idle clients
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
        return None

    async def _body(self, request: Request) -> bytes:
        limit = self.limits.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise RequestRefused(413, f"request body over {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RequestRefused(413, f"request body over {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _parse(self, body: bytes) -> tuple[str, list[Turn]]:
        """The question and history of a request body; RequestRefused(400) or BadQuestion when malformed."""
        try:
            payload = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise RequestRefused(400, "the body is not UTF-8") from None
        except ValueError:
            raise RequestRefused(400, 'the body is not JSON: send {"question": "...", "history": [...]}') from None
        if not isinstance(payload, dict):
            raise RequestRefused(400, 'the body must be a JSON object: {"question": "...", "history": [...]}')
        question = payload.get("question")
        if not isinstance(question, str):
            raise RequestRefused(400, '"question" must be a string')
        history = payload.get("history")
        if history is None:
            history = []
        if not isinstance(history, list) or not all(
            isinstance(t, dict) and t.get("role") in ("user", "assistant") and isinstance(t.get("content"), str)
            for t in history
        ):
            raise RequestRefused(400, '"history" must be a list of {"role": "user"|"assistant", "content": "..."}')
        turns = [Turn(t["role"], t["content"]) for t in history]
        parse_question(question, turns, self.settings.max_question_chars)  # BadQuestion: empty, too long
        return question, turns

    def _answer(self, question: str, history: list[Turn]) -> bytes:
        if isinstance(self.assistant, PooledAssistant):  # it keeps its local engine to one question at a time
            return self.assistant.ask_json(question, history)
        with self._local_lock:
            return answer_json(self.assistant.ask(question, history))

    # -- wiring ------------------------------------------------------------------------

    def routes(self) -> list[APIRoute]:
        """The routes to put in the server's app (e.g. `demo.launch(app_kwargs={"routes": api.routes()})`)."""
        if self._routes is None:
            self._routes = self._make_routes()
        return self._routes

    def _make_routes(self) -> list[APIRoute]:
        errors = {
            400: {"model": ErrorBody, "description": "not JSON, wrong types, empty or too long question, "
                                                     "malformed history"},
            413: {"model": ErrorBody, "description": f"body over {self.limits.max_body_bytes} bytes"},
            429: {"model": ErrorBody, "description": "this client sent too many requests", "headers": RETRY_AFTER},
            503: {"model": ErrorBody, "description": "overloaded: try again after Retry-After seconds",
                  "headers": RETRY_AFTER},
        }
        return [
            APIRoute("/api/ask", self.ask, methods=["POST"], summary="Answer one question from the plan",
                     description="CONTRACT §1 answer for a question and the conversation so far.",
                     response_model=None, responses={200: {"model": Answer, "description": "the answer"}, **errors},
                     openapi_extra={"requestBody": {"required": True,
                                                    "content": {"application/json": {"schema": ASK_REQUEST_SCHEMA}}}},
                     tags=["plan Q&A"]),
            APIRoute("/api/health", self.health, methods=["GET"], summary="Ready to answer?", response_model=None,
                     responses={200: {"model": HealthBody, "description": "the index is loaded"},
                                503: {"model": HealthBody, "description": "no answer worker is running",
                                      "headers": RETRY_AFTER}},
                     tags=["plan Q&A"]),
            APIRoute("/api/openapi.json", self.openapi, methods=["GET"], include_in_schema=False),
        ]

    def openapi_document(self) -> dict[str, Any]:
        routes = [r for r in self.routes() if r.include_in_schema]
        return get_openapi(title="规划问答 · Plan Q&A API", version=VERSION, routes=routes,
                           description="Cited answers about the Changning District 14th Five-Year Plan "
                                       "(../shared/CONTRACT.md §1, §4).")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _dumps(data: dict) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _error(status: int, message: str, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return Response(_dumps({"error": message}), status_code=status, media_type="application/json", headers=headers)
