"""Both model API twins through their frameworks' test clients: same answers, same errors."""

import pytest

from api_common import deadline
from api_model import fastapi_app, flask_app, service
from api_model.model import score
from api_model.settings import ModelAsyncSettings, ModelSyncSettings
from tests.clients import FastAPIClient, FlaskClient, post_json

FAST = {"latency_min_ms": 1, "latency_max_ms": 2, "max_body_bytes": 2048}


def make_twin(chain: str, **overrides):
    settings = FAST | overrides
    if chain == "sync":
        return FlaskClient(flask_app.create_app(ModelSyncSettings(**settings))), flask_app.PREDICT_PATH
    return FastAPIClient(fastapi_app.create_app(ModelAsyncSettings(**settings))), fastapi_app.PREDICT_PATH


@pytest.fixture(params=["sync", "async"])
def twin(request):
    client, path = make_twin(request.param)
    with client:
        yield client, path


def test_healthcheck_and_index(twin):
    client, _ = twin
    assert client.request("GET", "/api/v1/healthcheck").body == {"status": "OK"}
    index = client.request("GET", "/")
    assert index.status == 200 and "predict" in index.body


def test_predict_returns_the_deterministic_score(twin):
    client, path = twin
    reply = post_json(client, path, [5.1, 3.5, 1.4, 0.2])
    assert reply.status == 200
    assert reply.body["detail"] == pytest.approx(score("default", [5.1, 3.5, 1.4, 0.2]))
    assert reply.body["model"] == "default"
    assert 1 <= reply.body["latency_ms"] <= 2


@pytest.mark.parametrize("chain", ["sync", "async"])
def test_an_answer_says_the_version_the_tier_serves_when_it_names_one(chain):
    (plain, path), (named, _) = make_twin(chain), make_twin(chain, version="green")
    with plain, named:
        assert "version" not in post_json(plain, path, [1, 2]).body  # none named: nothing said
        assert post_json(named, path, [1, 2]).body["version"] == "green"


def test_model_is_chosen_by_query_parameter(twin):
    client, path = twin
    reply = post_json(client, path + "?model=model-2", [1, 2, 3])
    assert reply.body["model"] == "model-2"
    assert reply.body["detail"] == pytest.approx(score("model-2", [1.0, 2.0, 3.0]))


BAD = [
    (b"[5.1, 3.5", 400, "invalid_json"),
    (b"", 400, "invalid_json"),
    (b"[]", 422, "validation_error"),
    (b'["a"]', 422, "validation_error"),
    (b"[true]", 422, "validation_error"),
    (b"[[1.0]]", 422, "validation_error"),
    (b"[null]", 422, "validation_error"),
    (b'{"features": [1]}', 422, "validation_error"),
    (b"[NaN]", 400, "invalid_json"),
    (b"[Infinity]", 400, "invalid_json"),
    (b"[1e400]", 422, "validation_error"),
    (b"[" + b"1," * 2000 + b"1]", 413, "payload_too_large"),  # over the 2048-byte cap of FAST
    (b"\xff\xfe[1]", 400, "invalid_json"),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD, ids=[repr(b[:12]) for b, _, _ in BAD])
def test_bad_bodies_get_the_same_json_error_in_both_twins(twin, body, status, code):
    client, path = twin
    reply = client.request("POST", path, body, {"Content-Type": "application/json"})
    assert reply.status == status
    assert reply.body["error"] == code
    assert isinstance(reply.body["message"], str) and reply.body["message"]


@pytest.mark.parametrize("chain", ["sync", "async"])
def test_feature_count_limits(chain):
    client, path = make_twin(chain, max_body_bytes=1 << 20)
    with client:
        assert post_json(client, path, [1.0] * 1000).status == 200
        reply = post_json(client, path, [1.0] * 1001)
        assert reply.status == 422 and reply.body["error"] == "validation_error"


def test_wrong_content_type_is_415(twin):
    client, path = twin
    reply = client.request("POST", path, b"[1]", {"Content-Type": "text/plain"})
    assert reply.status == 415 and reply.body["error"] == "unsupported_media_type"


def test_wrong_method_and_unknown_path_are_json(twin):
    client, path = twin
    assert client.request("GET", path).body["error"] == "method_not_allowed"
    missing = client.request("GET", "/nope")
    assert missing.status == 404 and missing.body["error"] == "not_found"


def test_bad_model_name_is_422(twin):
    client, path = twin
    reply = post_json(client, path + "?model=../../etc", [1.0])
    assert reply.status == 422 and reply.body["error"] == "validation_error"


@pytest.mark.parametrize("chain", ["sync", "async"])
def test_an_unexpected_error_is_a_500_without_internals(chain, monkeypatch):
    def broken(*_a, **_k):
        raise RuntimeError("secret internals at /srv/app.py line 42")

    monkeypatch.setattr(service, "plan", broken)
    client, path = make_twin(chain)
    with client:
        reply = client.request("POST", path, b"[1.0]", {"Content-Type": "application/json"})
    assert reply.status == 500
    assert reply.body == {"error": "internal_error", "message": "internal server error"}


def test_flask_apps_never_run_in_debug_mode():
    assert not flask_app.create_app(ModelSyncSettings(**FAST)).debug


@pytest.mark.parametrize("method", ["TRACE", "DELETE"])
def test_a_method_no_route_serves_gets_405_with_allow(twin, method):
    client, path = twin
    for target, allowed in ((path, "POST"), ("/api/v1/healthcheck", "GET")):
        reply = client.request(method, target + "?profile=yappi")  # the router answers, not the profiler
        assert (reply.status, reply.body["error"]) == (405, "method_not_allowed")
        allow = {m.strip() for m in {k.lower(): v for k, v in reply.headers.items()}["allow"].split(",")}
        assert allowed in allow and method not in allow


def test_work_whose_caller_gave_up_is_not_started(twin):
    client, path = twin
    gone = post_json(client, path, [1.0], headers={deadline.HEADER: "0"})
    assert (gone.status, gone.body["error"]) == (504, "deadline_exceeded")
    assert post_json(client, path, [1.0], headers={deadline.HEADER: "5000"}).status == 200
    bad = post_json(client, path, [1.0], headers={deadline.HEADER: "-5"})
    assert (bad.status, bad.body["error"]) == (400, "invalid_header")
