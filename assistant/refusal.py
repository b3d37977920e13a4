"""Decide from retrieval alone whether the plan answers a question.

The evidence is measured on the best sentence that retrieval found; the thresholds
were calibrated on the dev split of the evaluation set (README, "Refusals").
"""

from __future__ import annotations

from dataclasses import dataclass

# Calibrated on eval/golden.jsonl (split "dev"); see bench/calibrate_refusal.py.
MIN_DENSE = 0.30  # cosine similarity (USE) of the best chunk/sentence to the question
MIN_COVERAGE = 0.35  # IDF-weighted share of the question's words in the best sentence + heading
MIN_PLAN_COVERAGE = 0.5  # share of the question's words (by weight) that the plan uses at all


@dataclass
class Evidence:
    dense: float
    coverage: float
    plan_coverage: float
    numeric: bool  # the question asks for a number
    has_quantity: bool  # the best sentence states one
    period_conflict: bool  # asks about 十四五 targets, found only 十三五 results


def refuse(evidence: Evidence) -> bool:
    if evidence.numeric and not evidence.has_quantity:
        return True
    if evidence.period_conflict:
        return True
    return False
