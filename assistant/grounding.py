"""Hold a generated answer to the passages it was given: markers, quotes and numbers.

The model sees the retrieved passages numbered [1]…[n] and is asked to mark each
claim. Whatever it writes, the answer that leaves here satisfies:
- a marker that names no passage it was given is removed;
- every citation comes from a passage the answer marks, and quotes verbatim the
  sentence of that passage that best matches what was marked with it; markers are
  renumbered to the order of the citations ([1] is the first citation);
- every number in the answer occurs in a cited passage (whitespace removed,
  full-width normalised); otherwise the answer is rejected as `Ungrounded`, as it is
  when it cites nothing, and the caller falls back to the extractive answer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from assistant.compose import quote_is_verbatim
from assistant.types import Citation, citation_for
from assistant.chunks import Chunk
from assistant.text import split_sentences, squash

# [1], [1][2], [1, 3], [1-3], ［１］, 【1】: what models write for "passage 1".
_MARKER = re.compile(r"[\[［【]\s*([0-9０-９]{1,3}(?:\s*[,，、\-–~]\s*[0-9０-９]{1,3})*)\s*[\]］】]")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# 1,000 → 1000; only an ASCII comma separates thousands (，between numbers lists them).
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# "1. …", "2、…" at the start of a line: list numbering, not a claim.
_LIST_NUMBER = re.compile(r"(?m)^\s*\d{1,2}\s*[.、)）](?!\d)\s*")
# Years the plan writes in Chinese digits (二〇三五年).
_CN_YEAR = re.compile(r"[一二][〇零九][〇零一二三四五六七八九]{2}")
_CN_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")
_NO_SUPPORT = re.compile(r"没有提到|未提到|没有提及|未提及|没有涉及|无法回答|not mention|does not say|cannot be answered", re.I)


class Ungrounded(ValueError):
    """The answer cannot be shown as it is; the message says why (it becomes Answer.fallback)."""


@dataclass
class Grounded:
    text: str  # the answer with markers cleaned and renumbered to `citations`
    citations: list[Citation]
    passages: list[int]  # for each citation, the 1-based number of the passage it came from


def ground(answer: str, passages: list[Chunk]) -> Grounded:
    """The answer as it may be shown, or Ungrounded. `passages[k - 1]` is passage [k]."""
    answer = answer.strip()
    if not answer:
        raise Ungrounded("the model gave an empty answer")
    order: list[int] = []  # passage numbers in order of first citation
    claims: dict[int, list[str]] = {}
    pieces: list[str] = []
    last, claim = 0, ""
    for match in _MARKER.finditer(answer):
        before = answer[last:match.start()]
        pieces.append(before)
        # "…600家。[1][2]": both markers back the same claim.
        claim = before if before.strip() else claim
        numbers = [k for k in _marker_numbers(match.group(1)) if 1 <= k <= len(passages)]
        for k in dict.fromkeys(numbers):
            if k not in claims:
                order.append(k)
                claims[k] = []
            claims[k].append(claim)
            pieces.append(f"[{order.index(k) + 1}]")
        last = match.end()
    pieces.append(answer[last:])
    text = _tidy("".join(pieces))
    if not order:
        if _NO_SUPPORT.search(answer):
            raise Ungrounded("the model found no support in the passages (retrieval did)")
        raise Ungrounded("the answer cites no passage it was given")
    cited = [passages[k - 1] for k in order]
    unsupported = numbers_in(_MARKER.sub("", text)) - set().union(*(passage_numbers(c) for c in cited))
    if unsupported:
        raise Ungrounded(f"the answer states numbers no cited passage contains: {', '.join(sorted(unsupported))}")
    citations = [citation_for(c, best_sentence(c, "".join(claims[k]))) for k, c in zip(order, cited)]
    for citation, chunk in zip(citations, cited):
        assert quote_is_verbatim(citation.quote, chunk.text), citation.quote
    return Grounded(text, citations, order)


def numbers_in(text: str) -> set[str]:
    """The numbers stated in a text, compared as strings: full-width digits made ASCII,
    thousands commas and whitespace dropped, list numbering ("1. …") ignored."""
    text = _LIST_NUMBER.sub("", unicodedata.normalize("NFKC", _THOUSANDS.sub("", text)))
    return set(_NUMBER.findall(squash(text)))


def passage_numbers(chunk: Chunk) -> set[str]:
    """Every number a passage states, in its text or its label, and the numbers of where it
    sits (第二章 → 2, 指标6 → 6): what an answer citing it may say."""
    found = numbers_in(f"{chunk.label}\n{chunk.text}")
    found |= {m.group(0).translate(_CN_DIGITS) for m in _CN_YEAR.finditer(chunk.text)}
    found |= {str(n) for n in (chunk.chapter, chunk.section, chunk.indicator, chunk.glossary) if n is not None}
    return found


def best_sentence(chunk: Chunk, claim: str) -> str:
    """The sentence of the passage that best matches the claim: most shared numbers, then
    most shared character pairs (a sentence's length discounted by its square root).
    An indicator row is quoted whole."""
    if chunk.kind == "indicator":
        return chunk.text
    sentences = [s.strip() for s in split_sentences(chunk.text) if s.strip()] or [chunk.text.strip()]
    wanted_numbers = numbers_in(claim)
    wanted_pairs = _pairs(claim)

    def score(sentence: str) -> tuple[int, float]:
        pairs = _pairs(sentence)
        overlap = len(wanted_pairs & pairs) / (len(pairs) ** 0.5 or 1.0)
        return len(wanted_numbers & numbers_in(sentence)), overlap

    return max(sentences, key=score)  # max keeps the first of equals: plan order


def _pairs(text: str) -> set[str]:
    text = squash(text)
    return {text[i:i + 2] for i in range(len(text) - 1)}


def _marker_numbers(inside: str) -> list[int]:
    inside = unicodedata.normalize("NFKC", inside)
    numbers: list[int] = []
    for part in re.split(r"\s*[,，、]\s*", inside):
        if re.fullmatch(r"\d+\s*[-–~]\s*\d+", part):
            first, last = (int(n) for n in re.split(r"\s*[-–~]\s*", part))
            numbers += range(first, min(last, first + 20) + 1)
        elif part.isdigit():
            numbers.append(int(part))
    return numbers


def _tidy(text: str) -> str:
    """Spaces left where a marker was removed ("…家 。" → "…家。")."""
    text = re.sub(r"[ \t]+([。，；：！？、,.;:!?])", r"\1", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()
