"""Both scoring twins through their test clients, on a real Redis and a real model API process."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from api_common import deadline
from api_common.ports import free_port
from api_model.fastapi_app import PREDICT_PATH as MODEL_ASYNC_PATH
from api_scoring import fastapi_app, flask_app
from api_scoring.settings import ScoringAsyncSettings, ScoringSyncSettings
from feature_store.loader import load
from lab import health, launcher, processes
from lab.smoke import expected_prediction
from tests.clients import FastAPIClient, FlaskClient, post_json
from tests.conftest import BUSY_MARGIN_S, make_stack, wait_for

SAMPLE = [5.1, 3.5, 1.4, 0.2]


def spawn_model(tmp_path, latency_ms: float) -> Iterator[str]:
    """A real async model API (one uvicorn worker) started by the lab's launcher."""
    stack = make_stack(model_async={"workers": 1, "latency_min_ms": latency_ms, "latency_max_ms": latency_ms})
    cmd = launcher.command(stack, "model-async", tmp_path)
    rec = processes.spawn("model-async", cmd, launcher.environment(stack, "model-async"), tmp_path / "m.log", "t")
    try:
        svc = stack.service("model-async")
        wait_for(lambda: health.http_ok(svc.health_url))
        yield svc.url
    finally:
        processes.stop(rec)
        processes.reap(rec)


@pytest.fixture(scope="module")
def model_url(tmp_path_factory) -> Iterator[str]:
    yield from spawn_model(tmp_path_factory.mktemp("model"), 1)


@pytest.fixture(scope="module")
def slow_model_url(tmp_path_factory) -> Iterator[str]:
    yield from spawn_model(tmp_path_factory.mktemp("slow"), 3000)


@pytest.fixture
def loaded(redis_url, key_prefix) -> str:
    client = redis.Redis.from_url(redis_url)
    assert load(client, 50, key_prefix) == 50
    client.close()
    return key_prefix


TIMEOUT_S = 0.3  # the twins' model and Redis timeouts in these tests


def make_twin(chain: str, **settings):
    base = {"model_path": MODEL_ASYNC_PATH, "model_timeout_s": TIMEOUT_S, "redis_timeout_s": TIMEOUT_S} | settings
    if chain == "sync":
        return FlaskClient(flask_app.create_app(ScoringSyncSettings(**base))), flask_app.PREDICT_PATH
    return FastAPIClient(fastapi_app.create_app(ScoringAsyncSettings(**base))), fastapi_app.PREDICT_PATH


CHAINS = ["sync", "async"]


@pytest.fixture(params=CHAINS)
def twin(request, redis_url, loaded, model_url):
    client, path = make_twin(request.param, redis_url=redis_url, key_prefix=loaded, model_url=model_url)
    with client:
        yield client, path


def expected(features, entity="0") -> float:
    stack = make_stack(scoring_sync={"default_entity_id": entity})
    return expected_prediction(stack, "sync", features)


def test_array_form_scores_the_default_entity(twin):
    client, path = twin
    reply = post_json(client, path, SAMPLE)
    assert reply.status == 200, reply.body
    assert reply.body["entity_id"] == "0"
    assert len(reply.body["predictions"]) == 2
    assert reply.body["detail"] == pytest.approx(expected(SAMPLE))


def test_object_form_names_its_entity(twin):
    client, path = twin
    reply = post_json(client, path, {"entity_id": "7", "features": [1.0, 2.0]})
    assert reply.status == 200, reply.body
    assert reply.body["entity_id"] == "7"
    assert reply.body["detail"] == pytest.approx(expected([1.0, 2.0], entity="7"))
    assert post_json(client, path, {"entity_id": "7"}).body["detail"] == pytest.approx(expected([], entity="7"))


def test_server_timing_header_splits_the_request(twin):
    client, path = twin
    reply = post_json(client, path, SAMPLE)
    header = {k.lower(): v for k, v in reply.headers.items()}["server-timing"]
    spans = dict(part.strip().split(";dur=") for part in header.split(","))
    assert set(spans) == {"redis", "models", "total"}
    assert float(spans["total"]) >= float(spans["models"]) >= 0


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"entity_id": "no-such-entity"}, 404, "entity_not_found"),
        ({"entity_id": 5}, 422, "validation_error"),
        ({"entity_id": ""}, 422, "validation_error"),
        ({"entity_id": "1", "extra": 1}, 422, "validation_error"),
        ("just a string", 422, "validation_error"),
        ([], 422, "validation_error"),
        ([1.0] * 999, 422, "validation_error"),  # 4 stored features + 999 > 1000
    ],
)
def test_bad_requests_get_the_same_error_in_both_twins(twin, payload, status, code):
    client, path = twin
    reply = post_json(client, path, payload)
    assert (reply.status, reply.body["error"]) == (status, code)
    assert reply.body["message"]


@pytest.mark.parametrize("chain", CHAINS)
def test_redis_down_is_a_fast_503(chain, loaded, model_url):
    client, path = make_twin(chain, redis_url=f"redis://127.0.0.1:{free_port()}/0", model_url=model_url)
    with client:
        t0 = time.perf_counter()
        reply = post_json(client, path, SAMPLE)
        assert (reply.status, reply.body["error"]) == (503, "feature_store_unavailable")
        assert time.perf_counter() - t0 < TIMEOUT_S + BUSY_MARGIN_S  # at most one Redis timeout, no retry loop


@pytest.mark.parametrize("chain", CHAINS)
def test_model_unreachable_is_a_fast_502(chain, redis_url, loaded):
    # A connect timeout far longer than any refusal takes: answering under it shows the refused
    # connection was reported at once, not waited on.
    connect_s = 2 * BUSY_MARGIN_S
    dead = {"model_url": f"http://127.0.0.1:{free_port()}", "model_connect_timeout_s": connect_s}
    client, path = make_twin(chain, redis_url=redis_url, key_prefix=loaded, **dead)
    with client:
        t0 = time.perf_counter()
        reply = post_json(client, path, SAMPLE)
        assert (reply.status, reply.body["error"]) == (502, "model_unreachable")
        assert time.perf_counter() - t0 < connect_s


@pytest.mark.parametrize("chain", CHAINS)
def test_slow_model_is_a_504_at_the_timeout(chain, redis_url, loaded, slow_model_url):
    client, path = make_twin(chain, redis_url=redis_url, key_prefix=loaded, model_url=slow_model_url)
    with client:
        t0 = time.perf_counter()
        reply = post_json(client, path, SAMPLE)
        elapsed = time.perf_counter() - t0
        assert (reply.status, reply.body["error"]) == (504, "model_timeout")
        assert TIMEOUT_S <= elapsed < TIMEOUT_S + BUSY_MARGIN_S  # one timeout, not the model's 3 s


@pytest.mark.parametrize("chain", CHAINS)
def test_a_callers_budget_bounds_the_model_calls(chain, redis_url, loaded, slow_model_url):
    budget_s, call_timeout_s = 0.1, 2.5  # both far under the model's 3 s; the budget is the tighter
    client, path = make_twin(chain, redis_url=redis_url, key_prefix=loaded, model_url=slow_model_url,
                             model_timeout_s=call_timeout_s)  # fmt: skip
    with client:
        t0 = time.perf_counter()
        reply = post_json(client, path, SAMPLE, headers={deadline.HEADER: str(int(budget_s * 1000))})
        elapsed = time.perf_counter() - t0
    assert (reply.status, reply.body["error"]) == (504, "model_timeout")
    assert budget_s <= elapsed < budget_s + BUSY_MARGIN_S < call_timeout_s


def test_sequential_calls_share_one_budget(redis_url, loaded, slow_model_url):
    # The sync twin calls its two models one after the other: the second gets what the first left.
    budget_s, call_timeout_s = 0.4, 2.5
    client, path = make_twin("sync", redis_url=redis_url, key_prefix=loaded, model_url=slow_model_url,
                             model_timeout_s=call_timeout_s, request_budget_ms=budget_s * 1000)  # fmt: skip
    with client:
        t0 = time.perf_counter()
        reply = post_json(client, path, SAMPLE)
        elapsed = time.perf_counter() - t0
    assert (reply.status, reply.body["error"]) == (504, "model_timeout")
    assert budget_s <= elapsed < budget_s + BUSY_MARGIN_S < call_timeout_s


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A model API that records the budget each call was sent with and answers at once."""

    seen: list[str | None] = []

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        _Recorder.seen.append(self.headers.get(deadline.HEADER))
        body = json.dumps({"detail": 0.5}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def recorder_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("chain", CHAINS)
def test_each_model_call_is_told_what_is_left(chain, redis_url, loaded, recorder_url):
    client, path = make_twin(chain, redis_url=redis_url, key_prefix=loaded, model_url=recorder_url,
                             model_timeout_s=2.0)  # fmt: skip
    with client:
        _Recorder.seen.clear()
        assert post_json(client, path, SAMPLE, headers={deadline.HEADER: "800"}).status == 200
        sent = [int(v) for v in _Recorder.seen]
        # What is left of the caller's 800 ms: a little less, by the time the store was read and the call made.
        assert len(sent) == 2 and all(800 - 1000 * BUSY_MARGIN_S < ms <= 800 for ms in sent)
        _Recorder.seen.clear()
        assert post_json(client, path, SAMPLE).status == 200  # no budget sent: the handler's own, its model timeout
        assert all(2000 - 1000 * BUSY_MARGIN_S < int(v) <= 2000 for v in _Recorder.seen)
        bad = post_json(client, path, SAMPLE, headers={deadline.HEADER: "soon"})
        assert (bad.status, bad.body["error"]) == (400, "invalid_header")
