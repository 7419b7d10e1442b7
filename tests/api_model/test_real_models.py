"""The real models (XGBoost, a torch MLP, the MiniLM text model) and what the model servers share: answers
alone equal answers in a batch, the cache is reused, items are validated, batch sizes are counted and read back."""

from __future__ import annotations

import pytest

from api_common.errors import ApiError
from api_model.model_servers import BatchCounts, Batches, Item, item, read_counts
from api_model.settings import ModelAsyncSettings

ITEMS = [[5.1, 3.5, 1.4, 0.2], [1.0] * 64, [16.0] * 10, [0.5, -3.0, 2.5]]
TOLERANCE = {"xgboost": 0.0, "torch": 1e-5, "text": 1e-5, "real": 0.0}
LIBRARY = {"xgboost": "xgboost", "torch": "torch", "text": "sentence_transformers", "real": "sklearn"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.mark.parametrize("kind", ["xgboost", "torch", "text"])
def test_batch_answers_equal_single_answers(kind, model_dir):
    pytest.importorskip(LIBRARY[kind])
    s = ModelAsyncSettings(kind=kind, model_dir=model_dir)
    backend = s.backend()
    backend.warm(s)
    alone = [backend.scores(s, "model-1", [x])[0] for x in ITEMS]
    together = backend.scores(s, "model-1", ITEMS)
    assert all(0.0 <= v <= 1.0 for v in together)
    assert together == pytest.approx(alone, abs=TOLERANCE[kind], rel=0)
    assert backend.scores(s, "model-2", ITEMS) != together  # another model name, another head or class


@pytest.mark.parametrize("kind", ["xgboost", "torch"])
def test_trained_model_is_cached_and_reloaded_the_same(kind, model_dir):
    pytest.importorskip(LIBRARY[kind])
    import importlib

    module = importlib.import_module(f"api_model.backends.{kind}")
    first = module.scores(model_dir, "model-1", ITEMS)
    assert any(p.name.startswith(module.VERSION) for p in model_dir.iterdir())
    module.load.cache_clear()  # a new worker: it reads the file instead of training
    assert module.scores(model_dir, "model-1", ITEMS) == first


def test_text_sentence_is_made_from_the_features_deterministically():
    from api_model.backends import text

    assert text.sentence([0.0, 1.0, 2.0]) == text.sentence([0.0, 1.0, 2.0])
    assert len(text.sentence([1.0] * 40).split()) == text.MAX_WORDS
    assert text.sentence([float("nan")]) == text.WORDS[0]


def test_item_validation_gives_the_lab_422():
    assert item({"features": [1.0, 2.0], "model": "m"}, "default") == Item([1.0, 2.0], "m")
    assert item({"features": [1.0]}, "default").model == "default"
    for body in ([1.0], {"model": "m"}, {"features": []}, {"features": ["x"]}, {"features": [1.0], "model": "a b"},
                 {"features": [1.0], "model": 3}):  # fmt: skip
        with pytest.raises(ApiError) as err:
            item(body, "default")
        assert err.value.status == 422


def test_batches_answer_each_item_with_its_own_model_and_count_the_batch(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_BATCH_DIR", str(tmp_path))
    batches = Batches(ModelAsyncSettings(kind="io", latency_min_ms=0, latency_max_ms=0))
    items = [Item([1.0, 2.0], "a"), Item([3.0], "b"), Item([1.0, 2.0], "a")]
    out = batches.answer(items)
    from api_model.model import score

    assert [o["detail"] for o in out] == [score("a", [1.0, 2.0]), score("b", [3.0]), score("a", [1.0, 2.0])]
    assert [o["model"] for o in out] == ["a", "b", "a"]
    batches.answer(items[:1])
    batches.counts.flush()
    assert read_counts(tmp_path) == {3: 1, 1: 1}


def test_batch_counts_of_several_processes_read_back_as_the_lab_histogram(tmp_path):
    import json
    import os

    from benchmark.analysis import batch_sizes
    from benchmark.snapshot import collect

    counts = BatchCounts(None)
    for n in (1, 4, 4):
        counts.observe(n)
    counts.folder = str(tmp_path)
    counts.flush()  # this process's file
    (tmp_path / "batches-999999.json").write_text(json.dumps({"32": 1, "2": 1}))  # another worker's
    assert (tmp_path / f"batches-{os.getpid()}.json").exists()
    prom = tmp_path / "m.prom"
    prom.write_text(collect(tmp_path, "model-async"))
    got = batch_sizes(prom)
    assert got is not None and (got["calls"], got["items"]) == (5, 43)
    assert got["shares"]["1"] == pytest.approx(0.2) and got["shares"]["17-32"] == pytest.approx(0.2)
