"""Measure the commitments ledger against the hand-written checklist.

    python -m eval.commitments [--checklist eval/commitments_checklist.jsonl] [--misses]

What counts as a match: an extracted record and a checklist line at the same
chapter, section and indicator whose values are equal once whitespace is removed
(NFKC, as everywhere in scoring). Matching is one-to-one: a record satisfies at most
one line, so a value stated twice in a section ("50%" twice in 八（二）) needs two
records. Where several records could take a line, the one whose quote contains the
line's quote is preferred. Metric names and periods are not compared: they are
paraphrases in the checklist.

- recall: checklist lines matched by any non-achievement record;
- precision: indicator and target records that match a line. Qualitative records
  (dated goals without a number) are not in the checklist and are left out;
  achievements (十三五 results) must never match and are left out of both.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from assistant.commitments import KINDS, Commitment, Ledger, load_ledger
from assistant.text import squash

HERE = Path(__file__).resolve().parent
CHECKLIST = HERE / "commitments_checklist.jsonl"
SCORED_KINDS = ("indicator", "target")


@dataclass(frozen=True)
class ChecklistItem:
    chapter: int
    section: int | None
    indicator: int | None
    metric: str
    value: str
    period: str | None
    quote: str

    @property
    def key(self) -> tuple:
        return self.chapter, self.section, self.indicator, squash(self.value)


@dataclass
class Matching:
    pairs: list[tuple[ChecklistItem, Commitment]]
    missed: list[ChecklistItem]  # checklist lines no record matched
    extra: list[Commitment]  # scored records that match no line
    records: list[Commitment]

    @property
    def recall(self) -> float:
        return len(self.pairs) / max(1, len(self.pairs) + len(self.missed))

    @property
    def precision(self) -> float:
        scored = [r for r in self.records if r.kind in SCORED_KINDS]
        matched = sum(1 for _, r in self.pairs if r.kind in SCORED_KINDS)
        return matched / max(1, len(scored))


def load_checklist(path: Path = CHECKLIST) -> list[ChecklistItem]:
    return [ChecklistItem(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _key(record: Commitment) -> tuple:
    return record.chapter, record.section, record.indicator, squash(record.value)


def match(ledger: Ledger, checklist: list[ChecklistItem]) -> Matching:
    candidates = [r for r in ledger.records if r.kind != "achievement"]
    free = list(candidates)
    pairs, missed = [], []
    for item in checklist:
        same = [r for r in free if _key(r) == item.key]
        if not same:
            missed.append(item)
            continue
        best = next((r for r in same if squash(item.quote) in squash(r.quote)), same[0])
        free.remove(best)
        pairs.append((item, best))
    extra = [r for r in free if r.kind in SCORED_KINDS]
    return Matching(pairs, missed, extra, candidates)


def commitments_report(checklist_path: Path = CHECKLIST, ledger: Ledger | None = None, details: bool = True) -> str:
    """A small Markdown table: records by kind, recall and precision against the checklist."""
    ledger = ledger or load_ledger()
    checklist = load_checklist(checklist_path)
    result = match(ledger, checklist)
    counts = Counter(r.kind for r in ledger.records)
    scored = sum(counts[k] for k in SCORED_KINDS)
    lines = [
        "## commitments ledger vs checklist",
        "| records | " + " | ".join(KINDS) + " | all |",
        "|---" * (len(KINDS) + 2) + "|",
        "| count | " + " | ".join(str(counts[k]) for k in KINDS) + f" | {len(ledger.records)} |",
        "",
        "| checklist | matched | recall | scored records | precision |",
        "|---|---|---|---|---|",
        f"| {len(checklist)} | {len(result.pairs)} | {result.recall:.2f} | {scored} | {result.precision:.2f} |",
    ]
    if details:
        lines += [f"\nmissed: {_place(i.chapter, i.section, i.indicator)} {i.metric} {i.value}" for i in result.missed]
        lines += [f"\nnot in checklist: {r.id} {r.place} {r.metric} {r.value}" for r in result.extra]
    return "\n".join(lines)


def _place(chapter: int, section: int | None, indicator: int | None) -> str:
    return f"{chapter}.{section or '-'}" + (f"#{indicator}" if indicator else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.commitments", description=__doc__.splitlines()[0])
    parser.add_argument("--checklist", type=Path, default=CHECKLIST)
    args = parser.parse_args(argv)
    print(commitments_report(args.checklist))
    return 0


if __name__ == "__main__":
    sys.exit(main())
