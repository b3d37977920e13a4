"""PostingsBM25 scores exactly as rank_bm25's BM25Okapi does, on the plan's own index."""

import json

import numpy as np
from rank_bm25 import BM25Okapi

from assistant.bm25 import PostingsBM25
from assistant.text import lexical_tokens
from tests.server import ROOT


def test_scores_are_bit_identical_to_rank_bm25(assistant, settings):
    data = json.loads((settings.index_dir / "chunks.json").read_text(encoding="utf-8"))
    questions = [json.loads(line)["question"] for line in
                 (ROOT / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    queries = [lexical_tokens(q) for q in questions] + [[], ["不在词表里的词"], ["养老", "养老"]]
    for corpus in (data["tokens"], data["sentence_tokens"]):
        fast, reference = PostingsBM25(corpus), BM25Okapi(corpus)
        assert fast.idf == reference.idf
        for tokens in queries:
            assert np.array_equal(fast.get_scores(tokens), reference.get_scores(tokens)), tokens
