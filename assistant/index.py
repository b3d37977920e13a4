"""The on-disk index: chunks, their FAISS vectors, BM25 tokens, sentence vectors, a manifest.

The manifest records the plan's checksum, the model, the chunker version and a
checksum of every file, so a stale, partial or corrupt index is detected and
rebuilt instead of failing later.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import faiss
import numpy as np
from rank_bm25 import BM25Okapi

from assistant.bm25 import PostingsBM25
from assistant.chunks import CHUNKER_VERSION, Chunk, chunk_outline
from assistant.config import Settings
from assistant.faults import CannotWrite, one_line
from assistant.embeddings import BundledUSE, embed, load_model, sentence_transformer
from assistant.outline import Outline, parse_outline, read_plan
from assistant.second_model import NONE, SecondModel, load_second_model
from assistant.text import TOKENIZER_VERSION, add_words, arabic_years, lexical_tokens, split_sentences, squash

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
FILES = ("chunks.json", "chunks.faiss", "sentences.faiss", "out_of_scope.faiss")
SECOND_FILE = "sentences_second.faiss"  # the sentences by the second sentence model, when one is configured
OUT_OF_SCOPE = Path(__file__).with_name("lexicon") / "out_of_scope.txt"
_QUOTED_TERM = re.compile(r"“([^“”]{2,10})”")


class IndexProblem(RuntimeError):
    """The index on disk is missing, stale, partial or corrupt (the message says which)."""


@dataclass
class Sentence:
    chunk: int  # position of its chunk in PlanIndex.chunks
    text: str


@dataclass
class PlanIndex:
    """Chunks and their sentences, each searchable densely (FAISS) and lexically (BM25)."""

    chunks: list[Chunk]
    chunk_vectors: faiss.Index
    chunk_bm25: BM25Okapi
    sentences: list[Sentence]
    sentence_vectors: faiss.Index
    sentence_bm25: BM25Okapi
    out_of_scope: faiss.Index  # example questions the plan does not answer
    vocabulary: list[str]
    manifest: dict
    second_vectors: np.ndarray | None = None  # the sentences by the second sentence model (rows as sentences)

    def __post_init__(self) -> None:
        self.sentence_owner = np.fromiter((s.chunk for s in self.sentences), dtype=np.int64, count=len(self.sentences))
        # The title a chunk sits under: its section's, else its chapter's (or glossary term),
        # with years in Arabic digits as questions write them (二〇三五年 → 2035年).
        self.titles = [squash(arabic_years((c.section_title or c.lead or c.chapter_title).strip("“”")))
                       for c in self.chunks]
        self._positions = {c.id: i for i, c in enumerate(self.chunks)}

    def position(self, chunk: Chunk) -> int:
        """The chunk's position in `chunks` (and in the chunk vectors)."""
        return self._positions[chunk.id]


def plan_vocabulary(outline: Outline) -> list[str]:
    """The plan's own terms, kept whole by the Chinese tokenizer."""
    terms = {i.name for i in outline.indicators} | {g.term.strip("“”") for g in outline.glossary}
    for chapter in outline.chapters:
        for section in chapter.sections:
            terms |= set(_QUOTED_TERM.findall(section.text))
    return sorted(t for t in terms if len(t) <= 20)


def build_index(settings: Settings, model: SentenceTransformer | BundledUSE | None = None,
                progress: bool = True, second: SecondModel | None = None) -> PlanIndex:
    """Parse, chunk, embed and write the index atomically to settings.index_dir."""
    started = time.perf_counter()
    plan_text = read_plan(settings.plan_path)
    _check_writable(settings.index_dir)  # before the slow part: one line, exit 5
    outline = parse_outline(plan_text)
    chunks = chunk_outline(outline)
    vocabulary = plan_vocabulary(outline)
    add_words(vocabulary)
    # Always through sentence-transformers (the bundled model's torch-free path is for queries).
    model = sentence_transformer(model or load_model(settings.embedding_model, settings.threads))

    sentences = [Sentence(i, s) for i, c in enumerate(chunks) for s in _chunk_sentences(c)]
    chunk_vectors = _flat_index(embed(model, [c.search_text for c in chunks], progress=progress))
    # Sentences are embedded bare (a long chunk dilutes a precise sentence), but searched
    # lexically with their chunk's heading, which names the topic they belong to.
    sentence_vectors = _flat_index(embed(model, [s.text for s in sentences], progress=progress))
    out_of_scope = _flat_index(embed(model, out_of_scope_examples()))
    second = second or load_second_model(settings.sentence_model)
    second_vectors = second.passages([s.text for s in sentences]) if second else None
    tokens = [lexical_tokens(c.search_text) for c in chunks]
    sentence_tokens = [lexical_tokens(f"{chunks[s.chunk].heading}\n{s.text}") for s in sentences]
    manifest = {
        "format": FORMAT_VERSION,
        "plan_sha256": _sha256_bytes(plan_text.encode("utf-8")),
        "model": settings.embedding_model,
        "second_model": settings.sentence_model,
        "chunker": CHUNKER_VERSION,
        "tokenizer": TOKENIZER_VERSION,
        "out_of_scope_sha256": _sha256_file(OUT_OF_SCOPE),
        "chunks": len(chunks),
        "dimension": int(chunk_vectors.d),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "build_seconds": 0.0,
    }
    staging = None
    try:  # a failed write (disk full, folder gone read-only) is one line and leaves no staging folder
        settings.index_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".index-", dir=settings.index_dir.parent))
        (staging / "chunks.json").write_text(json.dumps({
            "chunks": [c.to_dict() for c in chunks],
            "tokens": tokens,
            "sentences": [[s.chunk, s.text] for s in sentences],
            "sentence_tokens": sentence_tokens,
            "vocabulary": vocabulary,
        }, ensure_ascii=False), encoding="utf-8")
        faiss.write_index(chunk_vectors, str(staging / "chunks.faiss"))
        faiss.write_index(sentence_vectors, str(staging / "sentences.faiss"))
        faiss.write_index(out_of_scope, str(staging / "out_of_scope.faiss"))
        if second_vectors is not None:
            faiss.write_index(_flat_index(second_vectors), str(staging / SECOND_FILE))
        manifest["build_seconds"] = round(time.perf_counter() - started, 2)
        manifest["files"] = {name: _sha256_file(staging / name) for name in _files(second_vectors is not None)}
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        _move_into(staging, settings.index_dir)
    except (OSError, RuntimeError) as error:  # faiss reports a failed write as RuntimeError
        raise CannotWrite(f"cannot write the index to {one_line(settings.index_dir)}: "
                          f"{one_line(getattr(error, 'strerror', None) or error, 160)}") from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return PlanIndex(chunks, chunk_vectors, PostingsBM25(tokens), sentences, sentence_vectors,
                     PostingsBM25(sentence_tokens), out_of_scope, vocabulary, manifest, second_vectors)


def load_index(settings: Settings) -> PlanIndex:
    """Load and verify the index; raises IndexProblem saying what is wrong."""
    directory = settings.index_dir
    manifest_path = directory / "manifest.json"
    if not manifest_path.exists():
        raise IndexProblem(f"no index at {directory}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except (ValueError, KeyError, TypeError):
        raise IndexProblem(f"index manifest {manifest_path} is unreadable") from None
    expected = {
        "format": FORMAT_VERSION,
        "plan_sha256": _sha256_bytes(read_plan(settings.plan_path).encode("utf-8")),
        "model": settings.embedding_model,
        "second_model": settings.sentence_model,
        "chunker": CHUNKER_VERSION,
        "tokenizer": TOKENIZER_VERSION,
        "out_of_scope_sha256": _sha256_file(OUT_OF_SCOPE),
    }
    for key, value in expected.items():
        if manifest.get(key) != value:
            raise IndexProblem(f"index is stale ({key} changed)")
    for name in _files(settings.sentence_model != NONE):
        path = directory / name
        if not path.exists() or _sha256_file(path) != files.get(name):
            raise IndexProblem(f"index file {name} is missing or corrupt")
    try:
        data = json.loads((directory / "chunks.json").read_text(encoding="utf-8"))
        chunks = [Chunk(**c) for c in data["chunks"]]
        chunk_vectors = faiss.read_index(str(directory / "chunks.faiss"))
        sentence_vectors = faiss.read_index(str(directory / "sentences.faiss"))
        out_of_scope = faiss.read_index(str(directory / "out_of_scope.faiss"))
        second_vectors = None
        if settings.sentence_model != NONE:
            second = faiss.read_index(str(directory / SECOND_FILE))
            second_vectors = second.reconstruct_n(0, second.ntotal)
    except Exception as error:  # checksums matched, so this is a bug or a foreign file
        raise IndexProblem(f"index could not be read ({type(error).__name__})") from None
    add_words(data["vocabulary"])
    sentences = [Sentence(i, s) for i, s in data["sentences"]]
    return PlanIndex(chunks, chunk_vectors, PostingsBM25(data["tokens"]), sentences, sentence_vectors,
                     PostingsBM25(data["sentence_tokens"]), out_of_scope, data["vocabulary"], manifest, second_vectors)


def ensure_index(settings: Settings, model: SentenceTransformer | BundledUSE | None = None,
                 progress: bool = True, second: SecondModel | None = None) -> PlanIndex:
    """The index, rebuilt (with a one-line reason on the log) when missing, stale or corrupt."""
    try:
        return load_index(settings)
    except IndexProblem as problem:
        log.warning("%s; building the index (takes a few seconds)", problem)
        return build_index(settings, model, progress=progress, second=second)


def _files(second: bool) -> tuple[str, ...]:
    return (*FILES, SECOND_FILE) if second else FILES


def out_of_scope_examples() -> list[str]:
    lines = OUT_OF_SCOPE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _flat_index(vectors: np.ndarray) -> faiss.Index:
    """Exact inner-product search; the vectors are unit length, so scores are cosines."""
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def _chunk_sentences(chunk: Chunk) -> list[str]:
    if chunk.kind != "paragraph":
        return [chunk.text]
    return split_sentences(chunk.text)


def _check_writable(target: Path) -> None:
    """CannotWrite unless the index folder can be created and written (and the staging
    folder beside it): a path under a regular file, a read-only mount, no permission."""
    try:
        if target.exists() and not target.is_dir():
            raise NotADirectoryError(20, "it is a file, not a folder")
        target.mkdir(parents=True, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=".index-", dir=target.parent))
        handle, probe = tempfile.mkstemp(prefix=".write-test-", dir=target)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise CannotWrite(f"cannot write the index to {one_line(target)}: {one_line(error.strerror or error)}"
                          " (set ASSISTANT_INDEX_DIR to a writable folder)") from None


def _move_into(staging: Path, target: Path) -> None:
    """Move the built files into place, the manifest last: a crash in between leaves
    checksums that do not match, which the next load detects. Other files in the
    folder (its README) are left alone."""
    target.mkdir(parents=True, exist_ok=True)
    (target / "manifest.json").unlink(missing_ok=True)
    (target / SECOND_FILE).unlink(missing_ok=True)  # built without a second model: none left over
    for name in (*_files((staging / SECOND_FILE).exists()), "manifest.json"):
        os.replace(staging / name, target / name)
    shutil.rmtree(staging, ignore_errors=True)


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    return _sha256_bytes(path.read_bytes())
