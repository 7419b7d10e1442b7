"""Server-side profiling: off by default, and when on, files only in its folder with its own names."""

import pytest

from api_model import fastapi_app, flask_app
from api_model.settings import ModelAsyncSettings, ModelSyncSettings
from benchmark.profiling.breakdown import breakdown
from tests.clients import FastAPIClient, FlaskClient

FAST = {"latency_min_ms": 1, "latency_max_ms": 2}


def make(chain: str, tmp_path, enabled: bool):
    settings = FAST | {"profiling": enabled, "profile_dir": tmp_path / "profiles"}
    if chain == "sync":
        return FlaskClient(flask_app.create_app(ModelSyncSettings(**settings))), flask_app.PREDICT_PATH
    return FastAPIClient(fastapi_app.create_app(ModelAsyncSettings(**settings))), fastapi_app.PREDICT_PATH


def post(client, path, query=""):
    return client.request("POST", path + query, b"[1, 2]", {"Content-Type": "application/json"})


@pytest.mark.parametrize("chain", ["sync", "async"])
def test_profiling_is_off_by_default(chain, tmp_path):
    client, path = make(chain, tmp_path, enabled=False)
    with client:
        reply = post(client, path, "?profile=pyinstrument")
        assert reply.status == 403 and reply.body["error"] == "profiling_disabled"
        assert post(client, path).status == 200
    assert not (tmp_path / "profiles").exists()


@pytest.mark.parametrize("chain", ["sync", "async"])
@pytest.mark.parametrize("profiler", ["pyinstrument", "yappi"])
def test_a_profiled_request_writes_server_named_files(chain, profiler, tmp_path):
    client, path = make(chain, tmp_path, enabled=True)
    with client:
        reply = post(client, path, f"?profile={profiler}")
    assert reply.status == 200
    header = {k.lower(): v for k, v in reply.headers.items()}["x-profile-files"]
    names = [n.strip() for n in header.split(",")]
    written = sorted(p.name for p in (tmp_path / "profiles").iterdir())
    assert sorted(names) == written
    assert all(n.startswith(f"model-{chain}-{profiler}-") for n in names)
    text = next(p for p in (tmp_path / "profiles").iterdir() if p.suffix == ".txt").read_text()
    assert "predict" in text  # the handler shows in the profile


@pytest.mark.parametrize("chain", ["sync", "async"])
@pytest.mark.parametrize("value", ["../../etc/passwd", "/tmp/x", "..%2F..%2Fx", "pyinstrument/../../x", "yappi%00"])
def test_a_client_can_never_choose_a_path(chain, value, tmp_path):
    client, path = make(chain, tmp_path, enabled=True)
    with client:
        reply = post(client, path, f"?profile={value}")
    assert reply.status == 422 and reply.body["error"] == "validation_error"
    assert not (tmp_path / "profiles").exists() or not any((tmp_path / "profiles").iterdir())


def test_breakdown_from_a_saved_session(tmp_path):
    import time

    from pyinstrument import Profiler

    def call_model():
        time.sleep(0.03)

    prof = Profiler(interval=0.001)
    prof.start()
    call_model()
    time.sleep(0.01)
    prof.stop()
    path = tmp_path / "s.pyisession"
    prof.last_session.save(str(path))
    result = breakdown(path)
    assert result["total"] >= 35
    # call_model here is not in the scoring clients, so it is framework time: categories match real handlers only.
    assert result["models"] == 0 and result["framework"] > 0


def test_categories_of_frames():
    from benchmark.profiling.breakdown import category

    assert category("call", "/x/api_scoring/clients_sync.py") == "models"
    assert category("scores", "/x/api_scoring/clients_async.py") == "models"
    assert category("get", "/x/api_scoring/clients_async.py") == "redis"
    assert category("get", "/venv/lib/python3.11/site-packages/redis/commands/core.py") == "redis"
    assert category("parse_body", "/x/api_common/validation.py") == "serialisation"
    assert category("dumps", "/usr/lib/python3.11/json/__init__.py") == "serialisation"
    assert category("dispatch_request", "/venv/flask/app.py") is None
