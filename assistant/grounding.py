"""Hold a generated answer to the passages it was given, sentence by sentence.

The model sees the retrieved passages numbered [1]…[n] and is asked to mark each
sentence. Whatever it writes, the answer that leaves here satisfies:
- a marker that names no passage it was given is removed;
- every sentence carries a marker (a sentence that only says the plan is silent on
  something may stand without one: it states no fact);
- every number in a sentence occurs in a passage the sentence cites (full-width digits,
  Chinese numerals and years in Chinese digits normalised; 万 and 亿 must be the
  passage's too; a count of the passages it cites is allowed), and so does every named
  thing: quoted terms, places of the gazetteer, proper names by part of speech or by
  their suffix (公园, 医院), the plan's own terms (indicator names, glossary terms);
- a sentence that fails is dropped (`Grounded.dropped` says why); an answer left with no
  substantive sentence (empty, markers only, a copy of the passages) is `Ungrounded`,
  and the caller falls back to the extractive answer;
- every citation quotes verbatim the sentence of the cited passage that holds the fact
  marked with it (the span of sentences when the fact is spread over several); markers
  are renumbered to the order of the citations ([1] is the first citation).

A reply whose every sentence says the passages do not answer (marked or not) is a
refusal (`refuses`): the caller honours it rather than grounding it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from assistant.chunks import Chunk
from assistant.compose import quote_is_verbatim
from assistant.reading import PROPER, bodies, gazetteer, mentions, pos_tokens, says, suffixed_names, ways_of
from assistant.text import CN_NUMBER, arabic_years, cn_to_int, split_sentences, squash
from assistant.types import Citation, citation_for

# [1], [1][2], [1, 3], [1-3], ［１］, 【1】: what models write for "passage 1".
_MARKER = re.compile(r"[\[［【]\s*([0-9０-９]{1,3}(?:\s*[,，、\-–~]\s*[0-9０-９]{1,3})*)\s*[\]］】]")
_MARKER_AFTER = re.compile(r"[ \t]*" + _MARKER.pattern)
# Where a sentence ends: Chinese or English end punctuation (a closing quote stays with
# it), an English full stop before a space or a marker, a line break.
_END = re.compile(r"[。！？!?]+[”’）)」』\"]*|\.(?=\s|$|[\[［【])|\n+")
_LIST_ITEM = re.compile(r"(?:^|[\n；;：:，,。])[ \t]*\d{1,2}$")  # "1." opens a list item, it ends nothing
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_MAGNITUDE = re.compile(r"(\d+(?:\.\d+)?)([万亿])")
# 1,000 → 1000; only an ASCII comma separates thousands (，between numbers lists them).
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# "1. …", "2、…", "（3）…" at the start of a line or after a clause: list numbering, not a claim.
_LIST_NUMBER = re.compile(r"(?m)(?:^|(?<=[；;：:，,。]))\s*(?:\d{1,2}\s*[.、)）](?!\d)|[（(]\d{1,2}[)）])\s*")
# The plan's own names for periods: designations, not quantities an answer states.
_DESIGNATIONS = re.compile(r"第十[二三四]个五年规划|十[二三四]五|二[〇零]三五年远景目标")
_QUOTED = re.compile(r"[“「『《\"]([^“”「」『』《》\"\n]{1,40})[”」』》\"]")
# The plan itself, however it is called: never a claim to check.
_THE_PLAN = re.compile(r"纲要|规划|the Outline|the plan", re.I)
# The plan's own terms (taught to jieba by the index, assistant/text.py add_words) come
# back from part-of-speech tagging untagged, as "x".
_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
_FRAME = re.compile(r"根据|按照|《纲要》|纲要|according to|the outline|the plan", re.I)
_NO_SUPPORT = re.compile(
    r"没有提到|未提到|没有提及|未提及|没有涉及|未涉及|没有给出|未给出|没有相关|没有.{0,12}(?:内容|信息|数据|规定)|无法(?:根据|回答)|不能回答"
    r"|not mention|doesn't mention|does not (?:say|contain|give|provide|include|cover|specify)|no (?:information|mention|figure|data)"
    r"|not (?:covered|addressed|provided|specified)|cannot be answered|can't be answered|cannot answer|unable to answer", re.I)

_CONTRAST = re.compile(r"但|只|仅|而是|不过|\b(?:but|only|however|instead)\b", re.I)


class Ungrounded(ValueError):
    """The answer cannot be shown as it is; the message says why (it becomes Answer.fallback)."""


@dataclass
class Dropped:
    sentence: str  # as the model wrote it
    reason: str


@dataclass
class Grounded:
    text: str  # the kept sentences, markers cleaned and renumbered to `citations`
    citations: list[Citation]
    passages: list[int]  # for each citation, the 1-based number of the passage it came from
    dropped: list[Dropped] = field(default_factory=list)  # sentences that failed the check


@dataclass
class _Sentence:
    raw: str  # as written, markers included
    body: str  # without markers
    cites: list[int]  # the passages its markers name (only those it was given), in order
    claims: dict[int, list[tuple[int, str]]]  # marker's start → (passage, the text the marker backs)


def refuses(answer: str, count: int) -> bool:
    """Whether the reply says the passages do not answer and nothing else: every sentence with
    content says what the plan lacks (a marker put on such a sentence does not make it an answer)."""
    parsed = [_sentence(s, count) for s in sentences(answer)]
    said = [s for s in parsed if substantive(s.body)]
    return bool(said) and all(_says_lacking(s) for s in said)


def _says_lacking(s: _Sentence) -> bool:
    """A sentence that says what the plan lacks and nothing else; "没有给出目标值，只提出…[1]"
    goes on to answer from the passage it cites."""
    return bool(_NO_SUPPORT.search(s.body)) and not (s.cites and _CONTRAST.search(s.body))


def ground(answer: str, passages: list[Chunk]) -> Grounded:
    """The answer as it may be shown, or Ungrounded. `passages[k - 1]` is passage [k]."""
    answer = answer.strip()
    if not answer:
        raise Ungrounded("the model gave an empty answer")
    if copies_passages(answer, passages):
        raise Ungrounded("the answer copies the passages instead of answering")
    parsed = [_sentence(s, len(passages)) for s in sentences(answer)]
    if not any(s.cites for s in parsed):
        if _NO_SUPPORT.search(answer):
            raise Ungrounded("the model found no support in the passages (retrieval did)")
        raise Ungrounded("the answer cites no passage it was given")
    kept: list[_Sentence] = []
    dropped: list[Dropped] = []
    for s in parsed:
        reason = _unsupported(s, passages)
        if reason:
            dropped.append(Dropped(s.raw.strip(), reason))
        else:
            kept.append(s)
    if not any(s.cites and substantive(s.body) for s in kept):
        first = next((d.reason for d in dropped if d.reason != "no marker"), None)
        raise Ungrounded(first or "the answer has no sentence of its own (markers only)")
    return _renumber(kept, passages, dropped)


def sentences(answer: str) -> list[str]:
    """The answer cut into sentences, each with the markers that follow its end."""
    out, pos = [], 0
    while pos < len(answer):
        m = _END.search(answer, pos)
        while m and m.group(0) == "." and _LIST_ITEM.search(answer, 0, m.start()):
            m = _END.search(answer, m.end())
        if not m:
            out.append(answer[pos:])
            break
        end = m.end()
        while marker := _MARKER_AFTER.match(answer, end):
            end = marker.end()
        out.append(answer[pos:end])
        pos = end
    return [s for s in out if s.strip()]


def _sentence(raw: str, count: int) -> _Sentence:
    claims: dict[int, list[tuple[int, str]]] = {}
    cites: list[int] = []
    last, claim = 0, ""
    body = _MARKER.sub("", raw)
    for match in _MARKER.finditer(raw):
        before = raw[last:match.start()]
        # "…600家。[1][2]": both markers back the same claim.
        claim = before if _WORD.search(before) else claim or body
        for k in dict.fromkeys(_marker_numbers(match.group(1))):
            if 1 <= k <= count:
                claims.setdefault(match.start(), []).append((k, claim))
                cites.append(k)
        last = match.end()
    return _Sentence(raw, body, list(dict.fromkeys(cites)), claims)


def _unsupported(s: _Sentence, passages: list[Chunk]) -> str | None:
    """Why a sentence cannot be shown (None when it can)."""
    if not s.cites:
        if _NO_SUPPORT.search(s.body):
            return None  # "…没有提到其他区的数据。": says what the plan lacks, states no fact
        return "no marker"
    cited = [passages[k - 1] for k in s.cites]
    # "包括4个方面：1. …[1]；2. …[2]…": a count of the passages it cites is theirs to state.
    allowed = set().union(*(passage_numbers(c) for c in cited)) | {str(len(s.cites))}
    if missing := quantities(s.body) - allowed:
        return f"the answer states numbers no cited passage contains: {', '.join(sorted(missing))}"
    texts = [f"{c.label}\n{c.text}" for c in cited]
    if missing := [n for n in named_things(s.body) if not any(_holds(t, n) for t in texts)]:
        return f"the answer names what no cited passage contains: {', '.join(missing)}"
    return None


def _renumber(kept: list[_Sentence], passages: list[Chunk], dropped: list[Dropped]) -> Grounded:
    """The kept sentences with their markers renumbered to the citations, one citation per
    passage and quote (a passage cited for two facts in two sentences is quoted twice);
    markers that named no given passage are left out."""
    keys: list[tuple[int, str]] = []
    pieces: list[str] = []
    for s in kept:
        def renumbered(match: re.Match) -> str:
            out = ""
            for k, claim in s.claims.get(match.start(), []):
                key = (k, holding_quote(passages[k - 1], claim))
                if key not in keys:
                    keys.append(key)
                out += f"[{keys.index(key) + 1}]"
            return out

        pieces.append(_MARKER.sub(renumbered, s.raw))
    text = _tidy("".join(pieces))
    citations = [citation_for(passages[k - 1], quote) for k, quote in keys]
    for citation, (k, _) in zip(citations, keys):
        assert quote_is_verbatim(citation.quote, passages[k - 1].text), citation.quote
    return Grounded(text, citations, [k for k, _ in keys], dropped)


def copies_passages(answer: str, passages: list[Chunk]) -> bool:
    """Whether the reply is a block of passages rather than an answer: a line opening with a
    passage's header as the model was shown it, or two or more passages verbatim with
    nothing substantive of its own around them."""
    headers = 0
    for m in re.finditer(rf"(?m)^\s*{_MARKER.pattern}[ \t]*(\S[^\n]*)", answer):
        numbers = _marker_numbers(m.group(1))
        line = squash(m.group(2))
        # "[1] 第二章（四）主要指标 · 指标6": a line that opens with a passage's header, as the prompt shows it
        if numbers and 1 <= numbers[0] <= len(passages) and line[:6] == squash(passages[numbers[0] - 1].label)[:6]:
            headers += 1
    if headers:
        return True
    body = squash(_MARKER.sub("", answer))
    whole = [squash(c.text) for c in passages if len(squash(c.text)) > 20 and squash(c.text) in body]
    for text in whole:
        body = body.replace(text, "")
    return len(whole) >= 2 and not substantive(body)  # a lead of its own before the quotes is an answer


def substantive(body: str) -> bool:
    """Whether a sentence says something beyond "according to the Outline"."""
    return len(_WORD.findall(_FRAME.sub("", body))) >= 2


# -- numbers -------------------------------------------------------------------


def numbers_in(text: str) -> set[str]:
    """The numbers stated in a text, compared as strings: full-width digits made ASCII,
    thousands commas and whitespace dropped, list numbering ("1. …") ignored."""
    text = _LIST_NUMBER.sub("", unicodedata.normalize("NFKC", _THOUSANDS.sub("", text)))
    return set(_NUMBER.findall(squash(text)))


def quantities(text: str) -> set[str]:
    """What an answer states as numbers: its digits (numbers_in), years in Chinese digits
    (二〇三五年 → 2035) and Chinese numerals that count (二十二项 → 22; a lone 一 in 统一 is
    a word), and "N万"/"N亿" where a magnitude follows. The plan's names for its periods
    (十四五) are designations, not quantities."""
    text = _DESIGNATIONS.sub(" ", unicodedata.normalize("NFKC", text))
    text = arabic_years(text)
    found = numbers_in(text)
    for m in CN_NUMBER.finditer(text):
        run = m.group(0)
        if len(run) >= 2 or run in "十百千":
            if (value := cn_to_int(run)) is not None:
                found.add(str(value))
    found |= {a + b for a, b in _MAGNITUDE.findall(squash(_THOUSANDS.sub("", text)))}
    return found


def passage_numbers(chunk: Chunk) -> set[str]:
    """Every number a passage states, in its text or its label, in any of the ways an answer
    may write it, and the numbers of where it sits (第二章 → 2, 指标6 → 6): what an answer
    citing it may say. "N万" is allowed where the passage writes 万 at all (an indicator row
    puts its unit in a column of its own)."""
    where = {str(n) for n in (chunk.chapter, chunk.section, chunk.indicator, chunk.glossary) if n is not None}
    return stated_numbers(f"{chunk.label}\n{chunk.text}", where)


def stated_numbers(text: str, extra: set[str] = frozenset()) -> set[str]:
    """The numbers a plan text states (see passage_numbers), with `extra` ones beside them."""
    text = unicodedata.normalize("NFKC", text)
    found = numbers_in(text) | numbers_in(arabic_years(text)) | set(extra)
    for m in CN_NUMBER.finditer(text):
        if (value := cn_to_int(m.group(0))) is not None:
            found.add(str(value))
    return found | {n + mag for n in found for mag in "万亿" if mag in text}


# -- named things ----------------------------------------------------------------


def named_things(text: str) -> list[str]:
    """The named things a sentence states: quoted terms, places of the gazetteer and the
    companies of lexicon/bodies.tsv (in any of their ways of writing, English too), proper names (by part of speech, or ending in a
    suffix such as 公园 or 医院) and the plan's own terms. The plan itself and Changning,
    which every passage speaks for, are not claims."""
    home = {way for _, (kind, ways) in gazetteer().items() if kind == "home" for way in ways}
    names: list[str] = []
    for m in _QUOTED.finditer(text):
        term = m.group(1).strip()
        if term and not _THE_PLAN.search(term) and not _DESIGNATIONS.fullmatch(term):
            names.append(term)
    names += [place for place, (kind, _) in gazetteer().items() if kind != "home" and mentions(text, place)]
    names += [name for name, ways in bodies().items() if any(says(text, way) for way in ways)]  # Tencent, 美团
    plain = _DESIGNATIONS.sub(" ", _QUOTED.sub(" ", text))
    tokens = pos_tokens(plain)
    for word, flag in tokens:
        if _CJK.search(word) and len(word) >= 2 and word not in home and not _THE_PLAN.search(word) \
                and (flag in PROPER or (flag == "x" and len(word) >= 3)):
            names.append(word)
    names += [before + word for before, word, _ in suffixed_names(tokens) if before not in home]  # "长风" + "公园"
    return [n for n in dict.fromkeys(names) if n not in home and not any(n != o and n in o for o in names)]


def _holds(passage: str, name: str) -> bool:
    """Whether the passage names it: a place in any of its ways, anything else verbatim."""
    if name in gazetteer():
        return mentions(passage, name)
    return any(squash(way).lower() in squash(passage).lower() for way in ways_of(name))


# -- quotes ---------------------------------------------------------------------


def holding_quote(chunk: Chunk, claim: str) -> str:
    """The sentence of the passage that holds the fact the claim states: the one with most
    of its numbers, then most of its named things, then most shared character pairs (a
    sentence's length discounted by its square root). When no one sentence holds all its
    numbers, the span of sentences that does. An indicator row is quoted whole."""
    if chunk.kind == "indicator":
        return chunk.text
    found = [s.strip() for s in split_sentences(chunk.text) if s.strip()] or [chunk.text.strip()]
    wanted = quantities(claim)
    names = named_things(claim)
    pairs = _pairs(claim)

    def score(sentence: str) -> tuple[int, int, float]:
        own = _pairs(sentence)
        overlap = len(pairs & own) / (len(own) ** 0.5 or 1.0)
        return len(wanted & stated_numbers(sentence)), sum(_holds(sentence, n) for n in names), overlap

    best = max(found, key=score)  # max keeps the first of equals: plan order
    span = [best]
    for number in sorted(wanted - stated_numbers(best)):
        holder = next((s for s in found if number in stated_numbers(s)), None)
        if holder and holder not in span:
            span.append(holder)
    return _span(chunk.text, span)


def _span(text: str, parts: list[str]) -> str:
    """Sentences of one passage as one verbatim quote: from the earliest to the latest."""
    starts = [(text.find(p), p) for p in parts]
    if any(start < 0 for start, _ in starts):
        return parts[0]
    first = min(start for start, _ in starts)
    last = max(start + len(p) for start, p in starts)
    return text[first:last].strip()


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
