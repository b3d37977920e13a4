"""Shared fixtures: the real model and a real index, built once per test session in a
temporary folder (the repository's index/ is left alone)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from assistant.config import Settings  # noqa: E402
from assistant.engine import PlanAssistant  # noqa: E402
from assistant.outline import parse_outline, read_plan  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def plan_text() -> str:
    return read_plan(ROOT / "data" / "changning-14th-five-year-plan.txt")


@pytest.fixture(scope="session")
def outline(plan_text):
    return parse_outline(plan_text)


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("index") / "index"


@pytest.fixture(scope="session")
def settings(index_dir) -> Settings:
    return Settings(index_dir=index_dir)


@pytest.fixture(scope="session")
def assistant(settings) -> PlanAssistant:
    return PlanAssistant.load(settings)
