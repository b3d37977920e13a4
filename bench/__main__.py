"""`make bench`: index build time, cold start, warm latency, peak memory, and retrieval
accuracy against baselines — one run, one table.

    python -m bench [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def cold_start_seconds() -> float:
    """A new process answering one question with the index already built."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "assistant", "ask", "--json", "2025年高新技术企业要达到多少家？"],
                   cwd=ROOT, check=True, capture_output=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return time.perf_counter() - started


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)

    from assistant.config import Settings
    from assistant.embeddings import load_model
    from assistant.engine import PlanAssistant
    from assistant.types import Turn
    from assistant.index import build_index, ensure_index
    from assistant.outline import read_plan
    from assistant.retrieval import make_query, search
    from bench.baselines import TutorialPipeline
    from eval.scoring import load_items, matches

    results: dict = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                                f"Python {platform.python_version()}"}
    settings = Settings()
    started = time.perf_counter()
    model = load_model(settings.embedding_model, settings.threads)
    results["model_load_s"] = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        build_index(replace(settings, index_dir=Path(tmp) / "index"), model, progress=False)
        results["index_build_s"] = time.perf_counter() - started

    ensure_index(settings, model, progress=False)  # the real index, for the cold start below
    results["cold_start_s"] = cold_start_seconds()
    results["cold_start_peak_rss_mib"] = peak_rss_mib(resource.RUSAGE_CHILDREN)

    assistant = PlanAssistant.load(settings)
    items = load_items(ROOT / "eval" / "dev.jsonl")
    for item in items[:5]:  # warm up
        assistant.ask(item.question)
    latencies = []
    for item in items:
        history = [Turn(t["role"], t["content"]) for t in item.history]
        started = time.perf_counter()
        assistant.ask(item.question, history)
        latencies.append((time.perf_counter() - started) * 1000)
    results["questions"] = len(latencies)
    results["warm_p50_ms"] = statistics.median(latencies)
    results["warm_p95_ms"] = percentile(latencies, 95)
    results["peak_rss_mib"] = peak_rss_mib()

    # Retrieval accuracy: hit@1 / hit@5 over answerable items, standalone questions.
    answerable = [i for i in items if i.answerable]
    plan_text = read_plan(settings.plan_path)
    body_start = next(n for n, line in enumerate(plan_text.splitlines()) if line.startswith("长宁区国民经济和社会发展的"))
    tutorial = TutorialPipeline(plan_text, body_start, model)
    from assistant.expansion import expand
    from assistant.followup import standalone_question

    rows = {}
    for name in ("ours (hybrid)", "dense only", "bm25 only", "tutorial LangChain"):
        hit1 = hit5 = 0
        for item in answerable:
            history = [Turn(t["role"], t["content"]) for t in item.history]
            question = standalone_question(item.question, history)
            if name == "tutorial LangChain":
                places = tutorial.places_of_top(question, 5)
            else:
                mode = {"ours (hybrid)": "hybrid", "dense only": "dense", "bm25 only": "bm25"}[name]
                text = expand(question) if mode == "hybrid" else question
                hits = search(assistant.index, make_query(assistant.model, text), 5, mode)
                places = [[{"chapter": h.chunk.chapter, "section": h.chunk.section,
                            "indicator": h.chunk.indicator, "glossary": h.chunk.glossary}] for h in hits]
            found = [any(matches(p, e) for p in group for e in item.expected_citations) for group in places]
            hit1 += found[0]
            hit5 += any(found)
        rows[name] = (hit1 / len(answerable), hit5 / len(answerable))
    results["retrieval"] = {k: {"hit@1": v[0], "hit@5": v[1]} for k, v in rows.items()}
    results["tutorial_chunks"] = tutorial.chunks

    print(f"machine: {results['machine']}")
    print("| measure | value |\n|---|---|")
    print(f"| model load | {results['model_load_s']:.1f} s |")
    print(f"| index build (parse, chunk, embed, write) | {results['index_build_s']:.1f} s |")
    print(f"| cold start (new process → first answer, index present) | {results['cold_start_s']:.1f} s |")
    print(f"| warm answer latency p50 / p95 ({results['questions']} eval questions) | "
          f"{results['warm_p50_ms']:.1f} / {results['warm_p95_ms']:.1f} ms |")
    print(f"| peak RSS (bench process / cold-start CLI) | {results['peak_rss_mib']:.0f} / "
          f"{results['cold_start_peak_rss_mib']:.0f} MiB |")
    ours = rows["ours (hybrid)"]
    print(f"\nretrieval over {len(answerable)} answerable eval questions (same USE model everywhere):")
    print("| pipeline | hit@1 | hit@5 | hit@5 vs ours |\n|---|---|---|---|")
    for name, (h1, h5) in rows.items():
        print(f"| {name} | {h1:.2f} | {h5:.2f} | {h5 / ours[1]:.2f}× |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
