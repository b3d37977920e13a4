"""Scoring of answers against the evaluation set, exactly as ../shared/CONTRACT.md §3 says."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

KEYS = ("chapter", "section", "indicator", "glossary")


@dataclass
class Item:
    id: str
    category: str
    split: str
    question: str
    history: list[dict]
    answerable: bool
    expected_facts: list[str]
    expected_citations: list[dict]


@dataclass
class Score:
    item: Item
    refused: bool
    fact_ok: bool
    citation_ok: bool
    hit1: bool
    hit5: bool

    @property
    def correct(self) -> bool:
        if not self.item.answerable:
            return self.refused
        return not self.refused and self.fact_ok and self.citation_ok


def load_items(path: Path) -> list[Item]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            data.setdefault("history", [])
            data.setdefault("split", "dev")
            items.append(Item(**{k: data[k] for k in Item.__dataclass_fields__}))
    return items


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def matches(found: dict, expected: dict) -> bool:
    """`found` agrees with every key that `expected` names."""
    return all(found.get(key) == value for key, value in expected.items())


def score(item: Item, answer: dict) -> Score:
    text = _squash(answer.get("answer", ""))
    refused = not answer.get("answerable", True)
    fact_ok = all(_squash(fact) in text for fact in item.expected_facts)
    citation_ok = any(matches(c, e) for c in answer.get("citations", []) for e in item.expected_citations)
    sources = answer.get("sources", [])

    def hit(k: int) -> bool:
        return any(matches(s, e) for s in sources[:k] for e in item.expected_citations)

    return Score(item, refused, fact_ok, citation_ok, hit(1), hit(5))
