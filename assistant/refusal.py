"""Decide from retrieval alone whether the plan answers a question.

The evidence is measured on the best sentence that retrieval found; the thresholds
were calibrated on the dev split of the evaluation set (README, "Refusals").
"""

from __future__ import annotations

from dataclasses import dataclass

# Calibrated on eval/golden.jsonl (split "dev") with bench/refusal_features.py.
# `dense` is the cosine similarity (USE) of the question to the best chunk or sentence.
OFF_TOPIC_KNOWN = 0.40  # below this share of known words…
OFF_TOPIC_DENSE = 0.45  # …and this similarity, the question is about something else
UNRELATED_DENSE = 0.15  # nothing in the plan is even loosely similar


@dataclass
class Evidence:
    dense: float
    coverage: float  # IDF-weighted share of the question's words in the best sentence + its heading
    known: float  # IDF-weighted share of the question's words that the plan or the everyday lexicon uses
    term_match: bool  # the question names one of the plan's own terms (indicator, glossary, quoted term)
    numeric: bool  # the question asks for a number
    has_quantity: bool  # the best sentence states one
    period_conflict: bool  # asks about 十四五 targets, found only 十三五 results


def refuse(evidence: Evidence) -> bool:
    """Whether the plan does not answer the question, judged before composing any answer."""
    if evidence.numeric and not evidence.has_quantity:
        return True  # a near miss: the plan discusses the topic but states no figure
    if evidence.period_conflict:
        return True
    if evidence.term_match:
        return False
    if evidence.dense < UNRELATED_DENSE:
        return True
    return evidence.known < OFF_TOPIC_KNOWN and evidence.dense < OFF_TOPIC_DENSE
