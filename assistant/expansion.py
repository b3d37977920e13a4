"""Query expansion: everyday and English words → the plan's own words.

Citizens say 租房 where the plan says 租赁住房, and English speakers say "R&D" for
研发经费. A small hand-kept lexicon (lexicon/expansions.tsv) adds the plan's words to
the query, which helps BM25 (it needs shared words) and steers the embedding.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

LEXICON = Path(__file__).with_name("lexicon") / "expansions.tsv"
LEXICON_OFF = "ASSISTANT_NO_LEXICON"  # set to 1 to measure answers without expansion (python -m eval --no-lexicon)
_ASCII = re.compile(r"^[\x00-\x7f]+$")


@lru_cache(maxsize=1)
def _entries() -> list[tuple[re.Pattern[str], str]]:
    entries = []
    for line in LEXICON.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        everyday, plan_words = line.split("\t", 1)
        if _ASCII.match(everyday):  # English: whole words, any case
            pattern = re.compile(rf"(?<![A-Za-z]){re.escape(everyday)}(?![A-Za-z])", re.IGNORECASE)
        else:
            pattern = re.compile(re.escape(everyday))
        entries.append((pattern, plan_words.strip()))
    return entries


def expand(question: str) -> str:
    """The question followed by the plan's words for the everyday words it uses."""
    if os.environ.get(LEXICON_OFF) == "1":
        return question
    extra = [words for pattern, words in _entries() if pattern.search(question)]
    words = [w for w in dict.fromkeys(" ".join(extra).split()) if w not in question]
    return f"{question} {' '.join(words)}" if words else question

