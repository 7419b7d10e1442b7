"""A server is one module: a throwaway one, dropped in a folder the registry searches, serves a real service."""

from __future__ import annotations

import sys
import textwrap

import httpx
import pytest

from api_common import servers
from api_common.contract import SAMPLE
from api_model.model import score
from lab import control, launcher, processes
from tests.conftest import lab_settings, make_stack

pytestmark = pytest.mark.integration

# The standard library's WSGI server, one process, one thread: nothing the lab knew about before.
THROWAWAY = textwrap.dedent('''
    """wsgiref: the standard library's WSGI server, for the registry test."""

    import sys

    from api_common.servers import Server


    def _command(launch):
        s = launch.settings
        code = (
            "import importlib; from wsgiref.simple_server import make_server; "
            f"app = getattr(importlib.import_module({launch.app_module!r}), {launch.factory!r})(); "
            f"make_server({s.host!r}, {s.port}, app).serve_forever()"
        )
        return [sys.executable, "-c", code]


    SERVER = Server("wsgiref", _command, serves=lambda s: ("wsgi",), default_workers=lambda s: 1,
                    holds=lambda s: 1)
''')


def test_a_new_server_is_one_module(tmp_path, monkeypatch):
    folder = tmp_path / "servers"
    folder.mkdir()
    (folder / "wsgiref.py").write_text(THROWAWAY)
    monkeypatch.setenv("LAB_SERVER_PATH", str(folder))  # the services inherit it, so their settings know it too
    assert "wsgiref" in servers.names()

    stack = make_stack(model_sync={"server": "wsgiref"})
    model = stack.model("sync")
    assert model.settings.concurrency() == 1  # Little's law reads the module's answer
    assert launcher.command(stack, "model-sync", tmp_path)[:2] == [sys.executable, "-c"]
    lab = lab_settings(tmp_path)
    records = control.start(stack, lab, ["redis", "model-sync"], log=lambda *_: None)
    try:
        assert httpx.get(model.health_url, timeout=5).json() == {"status": "OK"}
        reply = httpx.post(model.predict_url, json=SAMPLE, timeout=5)
        assert reply.status_code == 200 and reply.json()["detail"] == pytest.approx(score("default", SAMPLE))
        bad = httpx.post(model.predict_url, content=b"[", headers={"Content-Type": "application/json"}, timeout=5)
        assert (bad.status_code, bad.json()["error"]) == (400, "invalid_json")
    finally:
        control.stop(lab, records)
    assert not any(processes.alive(r) for r in records)


def test_a_server_refuses_an_app_kind_it_does_not_serve(tmp_path):
    stack = make_stack(model_async={"server": "gunicorn", "worker_class": "sync"})  # gunicorn sync: WSGI only
    with pytest.raises(ValueError, match="does not serve asgi"):
        launcher.command(stack, "model-async", tmp_path)


def test_an_unknown_server_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown server 'nope'; known: .*granian.*gunicorn.*uvicorn"):
        make_stack(model_sync={"server": "nope"})
