"""Run the evaluation sets and print a per-category table for each.

    python -m eval [--set dev|blind|blind2|blind3|blind4|blind5|blind6|blind7|blind8|blind9|blind10|blind11|all] [--file F.jsonl] [--mode hybrid|dense|bm25]
                   [--no-lexicon] [--failures] [--json results.json]
                   [--llm URL [--llm-model NAME] [--llm-timeout S]]

With --llm (or ASSISTANT_LLM set, assistant/config.py) the LLM composer writes the
answers through the OpenAI-compatible server at URL, and a second table says per
category how many answers the model wrote, how many it refused, why the others fell
back to the extractive answer, and how many sentences grounding dropped.

Each blind set was written without seeing the engine and committed before its first
run, which is recorded in eval/README.md. The newest (HELD_OUT) are only ever scored:
--failures never prints its items. Older blind sets were retired into tuning sets, like
dev, once a newer one replaced them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

from assistant.config import Settings
from assistant.engine import PlanAssistant
from assistant.expansion import LEXICON_OFF
from assistant.types import Turn
from eval.scoring import Score, load_items, score

HERE = Path(__file__).resolve().parent
SETS = {"dev": HERE / "dev.jsonl", "blind": HERE / "blind.jsonl", "blind2": HERE / "blind2.jsonl",
        "blind3": HERE / "blind3.jsonl", "blind4": HERE / "blind4.jsonl",
        "blind5": HERE / "blind5.jsonl", "blind6": HERE / "blind6.jsonl",
        "blind7": HERE / "blind7.jsonl", "blind8": HERE / "blind8.jsonl",
        "blind9": HERE / "blind9.jsonl", "blind10": HERE / "blind10.jsonl", "blind11": HERE / "blind11.jsonl"}
HELD_OUT = ("blind9", "blind11")  # the sets whose failures are never printed (eval/README.md)


# Why an LLM answer fell back, in a few words: the start of Answer.fallback, or what it says.
FALLBACKS = {"timeout": "timeout", "busy": "busy", "connection": "connection", "model error": "model error",
             "numbers": "number", "names": "name", "cites no passage": "no marker", "markers only": "no sentence",
             "copies": "copy", "empty": "empty", "no support": "no support"}


def run(assistant: PlanAssistant, items) -> list[Score]:
    scores = []
    for item in items:
        history = [Turn(t["role"], t["content"]) for t in item.history]
        dropped = assistant.llm.sentences_dropped if assistant.llm else 0
        answer = assistant.ask(item.question, history).to_dict()
        scores.append(score(item, answer))
        scores[-1].answer = answer  # kept for --failures and the quote check
        scores[-1].dropped = (assistant.llm.sentences_dropped - dropped) if assistant.llm else 0
    return scores


def fallback_kind(reason: str) -> str:
    return next((kind for words, kind in FALLBACKS.items() if words in reason), "other")


def llm_table(scores: list[Score], title: str) -> str:
    """Per category: answers, correct, written by the model, refused by it, fallbacks by
    reason, sentences dropped by grounding."""
    by_category: dict[str, list[Score]] = defaultdict(list)
    for s in scores:
        by_category[s.item.category].append(s)
    rows = [title, "| category | n | correct | by the model | model refusals | fallbacks | sentences dropped |",
            "|---|---|---|---|---|---|---|"]
    for name in sorted(by_category) + ["ALL"]:
        group = scores if name == "ALL" else by_category[name]
        model = [s for s in group if s.answer["backend"] == "llm"]
        reasons = defaultdict(int)
        for s in group:
            if s.answer["fallback"]:
                reasons[fallback_kind(s.answer["fallback"])] += 1
        fallbacks = ", ".join(f"{kind} {n}" for kind, n in sorted(reasons.items(), key=lambda kv: -kv[1])) or "–"
        rows.append(f"| {name} | {len(group)} | {sum(s.correct for s in group) / len(group):.2f} | "
                    f"{len(model) / len(group):.2f} | {sum(not s.answer['answerable'] for s in model)} | "
                    f"{fallbacks} | {sum(s.dropped for s in group)} |")
    return "\n".join(rows)


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
    parser.add_argument("--set", dest="sets", choices=[*SETS, "all"], default="all")
    parser.add_argument("--file", type=Path, help="score this JSONL file instead of the named sets")
    parser.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    parser.add_argument("--no-lexicon", action="store_true", help="without query expansion (its weight, for the table)")
    parser.add_argument("--failures", action="store_true", help="list the items answered wrongly (never the held-out set's)")
    parser.add_argument("--json", type=Path, help="write every answer and score here")
    parser.add_argument("--llm", metavar="URL", help="answer through the LLM composer and this OpenAI-compatible server")
    parser.add_argument("--llm-model", default=os.environ.get("ASSISTANT_LLM_MODEL") or "default",
                        help="the model name the server knows")
    parser.add_argument("--llm-timeout", type=float, help="seconds for the model's part of each answer")
    args = parser.parse_args(argv)

    settings = Settings()
    if args.llm:
        settings = Settings(llm="openai", openai_base_url=args.llm, llm_model=args.llm_model,
                            openai_api_key=os.environ.get("OPENAI_API_KEY") or "unused",
                            llm_timeout=args.llm_timeout or settings.llm_timeout)
    assistant = PlanAssistant.load(settings)
    assistant.retrieval_mode = args.mode
    if args.no_lexicon:
        os.environ[LEXICON_OFF] = "1"
    files = {args.file.stem: args.file} if args.file else SETS if args.sets == "all" else {args.sets: SETS[args.sets]}
    all_scores = []
    for name, path in files.items():
        scores = run(assistant, load_items(path))
        all_scores += scores
        lexicon = ", lexicon off" if args.no_lexicon else ""
        print(table(scores, f"\n## {name} ({len(scores)} items, retrieval: {args.mode}{lexicon})"))
        if assistant.llm:
            print(llm_table(scores, f"\n### {name}: the LLM composer ({settings.llm_model} at "
                                    f"{settings.openai_base_url or settings.ollama_host or settings.llm})"))
    if args.sets == "all" and not args.file:
        from eval.commitments import commitments_report

        print("\n" + commitments_report())
    if args.failures:
        for s in all_scores:
            if not s.correct and s.item.split not in HELD_OUT:
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
