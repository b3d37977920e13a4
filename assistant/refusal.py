"""Decide from retrieval alone whether the plan answers a question.

The evidence is measured on the best sentence that retrieval found; the thresholds
were calibrated on the dev split of the evaluation set (README, "Refusals").
"""

from __future__ import annotations

from dataclasses import dataclass

# Calibrated on eval/golden.jsonl (split "dev") with bench/refusal_features.py.
# Similarities are cosines of USE embeddings (higher is closer).
SCOPE_MARGIN = 0.12  # refuse when an out-of-scope example is this much closer than the plan
UNRELATED_DENSE = 0.15  # nothing in the plan is even loosely similar
STRONG_COVERAGE = 0.5  # the best sentence holds this share of the question's words: on topic
# The best sentence's score (cosine + 0.5 × word coverage + rank prior, see answer.py)
# below which a number is not given: the plan discusses the topic but not that figure.
MIN_NUMERIC_ANSWER = 0.62


@dataclass
class Evidence:
    dense: float  # similarity of the question to the best chunk or sentence of the plan
    out_of_scope: float  # similarity to the closest out-of-scope example question
    coverage: float  # IDF-weighted share of the question's words in the best sentence + its heading
    term_match: bool  # the question names one of the plan's own terms (indicator, glossary, quoted term)
    numeric: bool  # the question asks for a number
    has_quantity: bool  # the best sentence states one, in the unit asked for
    answer_score: float  # the best sentence's score
    unknown_metric: bool  # a number question names a measure the plan never names (人口出生率)
    period_conflict: bool  # asks about 十四五 targets, found only 十三五 results


def refuse(evidence: Evidence) -> bool:
    """Whether the plan does not answer the question, judged before composing any answer."""
    if evidence.numeric and (not evidence.has_quantity or evidence.answer_score < MIN_NUMERIC_ANSWER):
        return True  # a near miss: the plan discusses the topic but states no such figure
    if evidence.unknown_metric:
        return True
    if evidence.period_conflict:
        return True
    if evidence.term_match or evidence.coverage >= STRONG_COVERAGE:
        return False
    return evidence.dense < UNRELATED_DENSE or evidence.out_of_scope - evidence.dense > SCOPE_MARGIN
