"""The batch endpoint and dynamic batching in both twins: batch answers equal single answers, item for item."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from api_common.contract import batch_path, predict_path
from api_model import fastapi_app, flask_app
from api_model.backends import real
from api_model.settings import ModelAsyncSettings, ModelSyncSettings
from tests.clients import FastAPIClient, FlaskClient, post_json

FAST = {"latency_min_ms": 1, "latency_max_ms": 2, "batch_item_ms": 0.1}
ITEMS = [[5.1, 3.5, 1.4, 0.2], [0.0, 16.0, 3.0], [1.0] * 70, [7.5]]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


def make(chain: str, **overrides):
    if chain == "sync":
        return FlaskClient(flask_app.create_app(ModelSyncSettings(**(FAST | overrides))))
    return FastAPIClient(fastapi_app.create_app(ModelAsyncSettings(**(FAST | overrides))))


@pytest.mark.parametrize("chain", ["sync", "async"])
@pytest.mark.parametrize("kind", ["io", "cpu", "real"])
def test_batch_answers_equal_single_answers_item_for_item(chain, kind, model_dir):
    with make(chain, kind=kind, model_dir=str(model_dir)) as client:
        batch = post_json(client, batch_path(chain) + "?model=model-2", ITEMS)
        assert batch.status == 200 and len(batch.body) == len(ITEMS)
        for item, answer in zip(ITEMS, batch.body, strict=True):
            single = post_json(client, predict_path(chain) + "?model=model-2", item)
            assert single.status == 200 and answer["model"] == "model-2"
            # The same function of the same item; a real model's stacked matrix product may differ in the last bits.
            assert answer["detail"] == pytest.approx(single.body["detail"], abs=1e-12)
            assert 0.0 <= answer["detail"] <= 1.0


def test_the_real_model_is_trained_once_and_cached(model_dir):
    real.scores(model_dir, "default", [ITEMS[0]])
    cached = real.cache_path(model_dir)
    assert cached.exists()
    real.load.cache_clear()
    before = cached.stat().st_mtime_ns
    assert real.scores(model_dir, "default", ITEMS) == real.scores(model_dir, "default", ITEMS)
    assert cached.stat().st_mtime_ns == before  # loaded, not trained again


BAD_BATCHES = [
    (b"[]", 422, "validation_error"),
    (b"[[]]", 422, "validation_error"),
    (b"[1.0, 2.0]", 422, "validation_error"),  # a vector, not a list of vectors
    (b'[[1.0], ["a"]]', 422, "validation_error"),
    (b"[[1.0], [NaN]]", 400, "invalid_json"),
    (json.dumps([[1.0]] * 5).encode(), 422, "validation_error"),  # over the cap of 4
]


@pytest.mark.parametrize("chain", ["sync", "async"])
@pytest.mark.parametrize(("body", "status", "code"), BAD_BATCHES, ids=[repr(b[:14]) for b, _, _ in BAD_BATCHES])
def test_bad_batches_get_the_shared_error_shape(chain, body, status, code):
    with make(chain, max_batch_size=4) as client:
        reply = client.request("POST", batch_path(chain), body, {"Content-Type": "application/json"})
        assert (reply.status, reply.body["error"]) == (status, code)
        assert reply.body["message"]


def test_a_gunicorn_sync_worker_cannot_batch_dynamically_and_says_why():
    with pytest.raises(ValueError, match="holds one"):
        flask_app.create_app(ModelSyncSettings(**FAST, max_wait_ms=5))


@pytest.mark.parametrize("chain", ["sync", "async"])
def test_dynamic_batching_forms_batches_larger_than_one(chain):
    threaded = {"worker_class": "gthread", "threads": 8} if chain == "sync" else {}
    with make(chain, max_wait_ms=200, max_batch_size=8, **threaded) as client:
        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(lambda x: post_json(client, predict_path(chain), [float(x)]), range(8)))
        assert all(r.status == 200 for r in replies)
        assert [r.body["detail"] for r in replies] == [post_json(client, predict_path(chain), [float(x)]).body["detail"]
                                                       for x in range(8)]  # fmt: skip
        text = client.request("GET", "/metrics").text
    # The histogram model_batch_size: fewer model calls than predictions, so some batch held more than one.
    calls = _sample(text, "model_batch_size_count")
    items = _sample(text, "model_batch_size_sum")
    assert items >= 16 and calls < items


def _sample(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))
