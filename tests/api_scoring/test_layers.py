"""Each of the lab's own layers is a switch (``ServiceSettings``, ``ScoringSettings``): turned off, it is absent from
the answer's headers and metrics, and from the app's middleware; on, it is there. On every framework a variant can
run the scoring tier with (Flask, FastAPI, Starlette, the bare apps), through their test clients, on a real Redis
and a model API that records what each call was sent."""

from __future__ import annotations

import pytest
from werkzeug.test import Client as WerkzeugClient

from api_common import deadline
from api_common.drain import AsgiDrain, WsgiDrain
from api_scoring import bare_asgi, bare_wsgi, fastapi_app, flask_app, starlette_app
from api_scoring.settings import ScoringAsyncSettings, ScoringSyncSettings
from tests.api_scoring.test_apps import SAMPLE, _Recorder, loaded, recorder_url  # noqa: F401 (fixtures)
from tests.clients import FastAPIClient, FlaskClient, Reply, post_json

LAYERS_OFF = {"metrics": False, "profiling_hook": False, "drain": False, "admission": "off", "server_timing": False,
              "deadlines": False}  # fmt: skip


class WsgiClient(FlaskClient):
    """The bare WSGI app through Werkzeug's own test client."""

    def __init__(self, app):
        self.client = WerkzeugClient(app)

    def request(self, method: str, path: str, content: bytes | None = None, headers: dict | None = None) -> Reply:
        resp = self.client.open(path, method=method, data=content, headers=headers or {})
        return Reply(resp.status_code, resp.get_json(silent=True), dict(resp.headers), resp.get_data(as_text=True))


APPS = {  # name: (module, settings, client, the framework-free floor?)
    "flask": (flask_app, ScoringSyncSettings, FlaskClient, False),
    "fastapi": (fastapi_app, ScoringAsyncSettings, FastAPIClient, False),
    "starlette": (starlette_app, ScoringAsyncSettings, FastAPIClient, False),
    "bare-wsgi": (bare_wsgi, ScoringSyncSettings, WsgiClient, True),
    "bare-asgi": (bare_asgi, ScoringAsyncSettings, FastAPIClient, True),
}


def build(name: str, redis_url: str, prefix: str, model_url: str, **layers):
    module, settings_class, client, _ = APPS[name]
    app = "bare" if name.startswith("bare") else name
    settings = settings_class(app=app, redis_url=redis_url, key_prefix=prefix, model_url=model_url,
                              model_timeout_s=2.0, **layers)  # fmt: skip
    made = module.create_app(settings)
    return made, client(made)


def path_of(name: str) -> str:
    return (flask_app if APPS[name][1] is ScoringSyncSettings else fastapi_app).PREDICT_PATH


def middleware(app) -> set[str]:
    """The names of the layers wrapped around an app: Starlette's middleware list, or the WSGI/ASGI wrappers."""
    if hasattr(app, "user_middleware"):
        return {m.cls.__name__ for m in app.user_middleware}
    wsgi = getattr(app, "wsgi_app", app)
    return {type(layer).__name__ for layer in (wsgi, app) if isinstance(layer, WsgiDrain | AsgiDrain)}


@pytest.mark.parametrize("name", APPS)
@pytest.mark.parametrize("on", [True, False], ids=["on", "off"])
def test_each_layer_is_there_only_when_its_switch_is_on(name, on, redis_url, loaded, recorder_url):  # noqa: F811
    floor = APPS[name][3]
    layers = {} if on else LAYERS_OFF
    app, client = build(name, redis_url, loaded, recorder_url, **layers)
    path = path_of(name)
    with client:
        _Recorder.seen.clear()
        reply = post_json(client, path, SAMPLE)
        assert reply.status == 200
        assert ("Server-Timing" in reply.headers or "server-timing" in reply.headers) is on
        # Deadlines: each model call is told what is left of the budget, or nothing.
        assert len(_Recorder.seen) == 2 and all((v is not None) is on for v in _Recorder.seen)
        if not floor:  # the floor has no metrics, no profiling hook, no overload policy of its own
            exposed = client.request("GET", "/metrics").text
            assert ("lab_http_requests_total" in exposed) is on
            assert ("lab_scoring_step_duration_seconds" in exposed) is on
            profiled = client.request("POST", f"{path}?profile=yappi", b"[1.0]", {"Content-Type": "application/json"})
            # The hook refuses profiling on a service started without it; with the hook off the query is ignored.
            assert (profiled.status == 403) is on
    wrapped = middleware(app)
    assert ({"WsgiDrain", "AsgiDrain"} & wrapped != set()) is on
    if hasattr(app, "user_middleware"):
        for layer in ("MetricsMiddleware", "AdmissionMiddleware", "ProfilingMiddleware"):
            assert (layer in wrapped) is on


def test_a_turned_off_deadline_ignores_the_callers_budget(redis_url, loaded, recorder_url):  # noqa: F811
    # The caller's 0 ms budget: with deadlines on the model calls get no time (a 504); off, they get their timeout.
    for on, expected in ((True, 504), (False, 200)):
        _, client = build("fastapi", redis_url, loaded, recorder_url, deadlines=on)
        with client:
            assert post_json(client, path_of("fastapi"), SAMPLE, headers={deadline.HEADER: "0"}).status == expected


def test_profiling_needs_its_hook():
    with pytest.raises(ValueError, match="profiling_hook"):
        ScoringAsyncSettings(profiling=True, profiling_hook=False)
