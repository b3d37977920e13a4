"""Cut the outline into retrieval chunks that never cross a section.

One chunk per paragraph ("——" subsections are paragraphs), split at sentence ends
when a paragraph exceeds the token budget; one chunk per main-indicator row and per
glossary term. The text that is embedded is prefixed with the chunk's heading path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from assistant.outline import Outline, Paragraph
from assistant.text import cn_numeral, count_tokens, split_sentences

CHUNKER_VERSION = "3"
MAX_TOKENS = 320
GLOSSARY_CHAPTER = 12


@dataclass
class Chunk:
    """A passage of the plan with where it sits: the unit of retrieval and citation.

    `chapter`, `section`, `indicator` and `glossary` follow ../shared/CONTRACT.md.
    `text` is verbatim plan text (what citations quote); `heading` is the path of
    titles above it, prepended to the text for embedding and lexical search.
    """

    id: str
    chapter: int | None
    section: int | None
    indicator: int | None
    glossary: int | None
    label: str
    heading: str
    text: str
    chapter_title: str = ""
    section_title: str = ""
    lead: str | None = None
    kind: str = "paragraph"  # paragraph | indicator | glossary

    @property
    def search_text(self) -> str:
        """What is embedded and indexed lexically."""
        if self.kind == "indicator":
            return f"{self.heading}\n{self.rewritten_row}"
        return f"{self.heading}\n{self.text}"

    @property
    def rewritten_row(self) -> str:
        # An indicator row reads as a sentence so that questions embed close to it.
        name, unit, target = self.text.split("\t")
        return f"主要指标：{name}（{unit}），目标值：{target}"

    def to_dict(self) -> dict:
        return asdict(self)


def chunk_outline(outline: Outline, max_tokens: int = MAX_TOKENS) -> list[Chunk]:
    chunks: list[Chunk] = []
    for i, paragraph in enumerate(outline.preamble, 1):
        chunks += _paragraph_chunks(f"pre-p{i:02d}", paragraph, None, None, "序言", "序言", "", "", max_tokens)
    for chapter in outline.chapters:
        chapter_label = f"第{cn_numeral(chapter.number)}章"
        chapter_heading = f"{cn_numeral(chapter.number)}、{chapter.title}"
        for i, paragraph in enumerate(chapter.intro, 1):
            chunks += _paragraph_chunks(
                f"c{chapter.number:02d}-p{i:02d}", paragraph, chapter.number, None,
                f"{chapter_label} {chapter.title}", chapter_heading, chapter.title, "", max_tokens,
            )
        for section in chapter.sections:
            label = f"{chapter_label}（{cn_numeral(section.number)}）{section.title}"
            heading = f"{chapter_heading} > （{cn_numeral(section.number)}）{section.title}"
            for i, paragraph in enumerate(section.paragraphs, 1):
                chunks += _paragraph_chunks(
                    f"c{chapter.number:02d}-s{section.number:02d}-p{i:02d}", paragraph, chapter.number,
                    section.number, label, heading, chapter.title, section.title, max_tokens,
                )
    table = outline.section(2, 4)
    for indicator in outline.indicators:
        chunks.append(Chunk(
            id=f"ind-{indicator.number:02d}", chapter=2, section=4, indicator=indicator.number, glossary=None,
            label=f"第二章（四）{table.title} · 指标{indicator.number} {indicator.name}",
            heading=f"二、{outline.chapter(2).title} > （四）{table.title} > 指标{indicator.number}（{indicator.nature}指标）",
            text=indicator.row, chapter_title=outline.chapter(2).title, section_title=table.title,
            lead=indicator.name, kind="indicator",
        ))
    for term in outline.glossary:
        chunks.append(Chunk(
            id=f"glo-{term.number:02d}", chapter=GLOSSARY_CHAPTER, section=None, indicator=None, glossary=term.number,
            label=f"附件 名词解释 · {term.number} {term.term}",
            heading=f"附件：{outline.glossary_title} > {term.term}",
            text=term.definition, chapter_title=outline.glossary_title, lead=term.term, kind="glossary",
        ))
    return chunks


def _paragraph_chunks(
    chunk_id: str, paragraph: Paragraph, chapter: int | None, section: int | None,
    label: str, heading: str, chapter_title: str, section_title: str, max_tokens: int,
) -> list[Chunk]:
    if paragraph.lead:
        label, heading = f"{label} · {paragraph.lead}", f"{heading} > {paragraph.lead}"
    pieces = _within_budget(paragraph.text, max_tokens)
    return [
        Chunk(
            id=chunk_id if len(pieces) == 1 else f"{chunk_id}-{n}", chapter=chapter, section=section,
            indicator=None, glossary=None, label=label, heading=heading, text=piece,
            chapter_title=chapter_title, section_title=section_title, lead=paragraph.lead,
        )
        for n, piece in enumerate(pieces, 1)
    ]


def _within_budget(text: str, max_tokens: int) -> list[str]:
    """Greedy runs of whole sentences of at most `max_tokens` tokens each."""
    if count_tokens(text) <= max_tokens:
        return [text]
    pieces, current = [], ""
    for sentence in split_sentences(text):
        if current and count_tokens(current + sentence) > max_tokens:
            pieces.append(current)
            current = ""
        current += sentence
    return pieces + [current] if current else pieces
