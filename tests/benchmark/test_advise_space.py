"""The advisor's space is read from the server registry: each server's knobs, the runtime's threads beside them,
workers x threads within the cores, and a server of the user's own with knobs joins it."""

from __future__ import annotations

import textwrap

from api_common import servers
from benchmark.advise.space import space


def test_the_space_comes_from_the_servers_knobs_within_the_cores():
    found, _ = space(4)
    by_server = {c.server for c in found}
    assert {"uvicorn", "gunicorn", "granian"} <= by_server  # every server with knobs
    assert "queue_workers" not in by_server and "waitress" not in by_server  # servers without knobs are not tried
    for c in found:
        workers = c.overrides.get("workers") or 4
        assert workers * c.overrides["model_threads"] <= 4
        settings_class = {"sync": "wsgi", "async": "asgi"}[c.chain]
        assert settings_class in servers.get(c.server).serves(_settings(c)) or not servers.get(c.server).runs_app
    names = [c.name for c in found]
    assert len(names) == len(set(names))  # every candidate named apart
    assert any(c.overrides.get("max_wait_ms") for c in found if c.server == "uvicorn")  # the lab's own batching


def _settings(c):
    from lab.stack import build_stack

    return build_stack({c.service: c.overrides}).service(c.service).settings


def test_only_and_exclude_narrow_it_and_a_space_left_empty_says_so():
    only, _ = space(2, only=("granian",))
    assert only and {c.server for c in only} == {"granian"}
    rest, _ = space(2, exclude=("granian", "gunicorn"))
    assert rest and not {c.server for c in rest} & {"granian", "gunicorn"}
    assert space(2, only=("nothing-of-the-kind",))[0] == []


def test_a_server_of_the_users_own_with_knobs_joins_the_space(tmp_path, monkeypatch):
    (tmp_path / "mine.py").write_text(
        textwrap.dedent("""
        from api_common.servers import Server
        from api_common.servers.uvicorn import _command

        SERVER = Server("mine", _command, serves=lambda s: ("asgi",),
                        knobs=lambda cores: [{"chain": "async", "workers": 1}])
    """)
    )
    monkeypatch.setenv("LAB_SERVER_PATH", str(tmp_path))
    found, _ = space(2, only=("mine",))
    assert [c.name for c in found] == ["mine-w1-t1", "mine-w1-t2"]
