"""Run the evaluation set and print a per-category table for each split.

    python -m eval [--golden eval/golden.jsonl] [--split dev|test|all] [--mode hybrid|dense|bm25]
                   [--failures] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from assistant.engine import PlanAssistant
from assistant.types import Turn
from eval.scoring import Score, load_items, score

HERE = Path(__file__).resolve().parent


def run(assistant: PlanAssistant, items) -> list[Score]:
    scores = []
    for item in items:
        history = [Turn(t["role"], t["content"]) for t in item.history]
        answer = assistant.ask(item.question, history).to_dict()
        scores.append(score(item, answer))
        scores[-1].answer = answer  # kept for --failures and the quote check
    return scores


def table(scores: list[Score], title: str) -> str:
    by_category: dict[str, list[Score]] = defaultdict(list)
    for s in scores:
        by_category[s.item.category].append(s)
    rows = [f"{title}", "| category | n | correct | hit@1 | hit@5 | fact | cite | refused |", "|---|---|---|---|---|---|---|---|"]
    for name in sorted(by_category) + ["ALL"]:
        group = scores if name == "ALL" else by_category[name]
        answerable = [s for s in group if s.item.answerable]
        n, na = len(group), len(answerable) or 1

        def rate(values, d):
            return f"{sum(values) / d:.2f}" if answerable or not values else "–"

        rows.append(
            f"| {name} | {n} | {sum(s.correct for s in group) / n:.2f} | "
            f"{rate([s.hit1 for s in answerable], na)} | {rate([s.hit5 for s in answerable], na)} | "
            f"{rate([s.fact_ok for s in answerable], na)} | {rate([s.citation_ok for s in answerable], na)} | "
            f"{sum(s.refused for s in group) / n:.2f} |"
        )
    unanswerable = [s for s in scores if not s.item.answerable]
    answerable = [s for s in scores if s.item.answerable]
    rows.append(
        f"\nunanswerable refused: {sum(s.refused for s in unanswerable)}/{len(unanswerable)}"
        f" · false refusals: {sum(s.refused for s in answerable)}/{len(answerable)}"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__.splitlines()[0])
    parser.add_argument("--golden", type=Path, default=HERE / "golden.jsonl")
    parser.add_argument("--split", choices=["dev", "test", "all"], default="all")
    parser.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    parser.add_argument("--failures", action="store_true", help="list the items answered wrongly")
    parser.add_argument("--json", type=Path, help="write every answer and score here")
    args = parser.parse_args(argv)

    assistant = PlanAssistant.load()
    assistant.retrieval_mode = args.mode
    items = load_items(args.golden)
    splits = ["dev", "test"] if args.split == "all" else [args.split]
    all_scores = []
    for split in splits:
        scores = run(assistant, [i for i in items if i.split == split])
        all_scores += scores
        print(table(scores, f"\n## split: {split} ({len(scores)} items, retrieval: {args.mode})"))
    if args.split == "all":
        from eval.commitments import commitments_report

        print("\n" + commitments_report())
    if args.failures:
        for s in all_scores:
            if not s.correct:
                a = s.answer
                print(f"\n✗ {s.item.id} [{s.item.split}] {s.item.question}\n  expected {s.item.expected_facts} "
                      f"{s.item.expected_citations}\n  got: {a['answer'][:160]}\n  cites: "
                      f"{[(c['chapter'], c['section'], c['indicator'], c['glossary']) for c in a['citations']]}"
                      f" top: {[(x['chapter'], x['section'], x['indicator']) for x in a['sources'][:3]]}")
    if args.json:
        args.json.write_text(json.dumps([{"id": s.item.id, "correct": s.correct, "answer": s.answer}
                                         for s in all_scores], ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
