"""A framework, a model backend and an experiment of the user's own are each a module in a folder the lab is told of.

Each is written here as a throwaway module, found through its registry's environment variable (which the
services inherit), and run on a real stack: the backend's scores come back through both tiers of a chain,
the experiment's step lands in a run's manifest and its section in the rebuilt report.
"""

from __future__ import annotations

import json
import os
import textwrap

import httpx
import pytest

from api_common import frameworks
from api_common.contract import SAMPLE
from api_model import backends
from benchmark import experiments, suite
from benchmark.report.build import build
from cli.main import parser
from lab import control
from lab.smoke import expected_prediction
from tests.conftest import lab_settings, make_stack, start

pytestmark = pytest.mark.integration

BACKEND = textwrap.dedent('''
    """``length``: a model whose score is the share of a 100-feature input the request filled."""

    from api_model.backends import Backend


    def _scores(settings, name, items):
        return [min(1.0, len(features) / 100) for features in items]


    BACKEND = Backend("length", _scores, cost_ms=lambda settings, n, single: 5.0)
''')

EXPERIMENT = textwrap.dedent('''
    """``echo``: a number of predictions per chain (an option of its own), counted by status."""

    import httpx

    from api_common.contract import CHAINS, SAMPLE
    from benchmark.experiments import Experiment, Option
    from benchmark.render.tables import Section


    def run(ctx):
        answered = {}
        with httpx.Client(timeout=5) as client:
            for chain in CHAINS:
                statuses = [client.post(ctx.stack.scoring(chain).predict_url, json=SAMPLE).status_code
                            for _ in range(ctx.profile.option("echo_calls"))]
                answered[chain] = statuses.count(200)
        return {"answered": answered}


    def summarise(run, manifest):
        return {"echo": manifest.get("steps", {}).get("echo", {})}


    def sections(summary):
        step = summary.get("echo")
        return [Section("echo", f"answered: {step['answered']}")] if step else []


    CALLS = Option("echo_calls", int, quick=20, full=100, help="predictions per chain")
    EXPERIMENT = Experiment("echo", 90, "echo (a throwaway experiment)", "predictions per chain", (CALLS,), run,
                            sections, main_job=False, summarise=summarise)
''')


# A framework of the user's own: a row naming one app module per tier, and those modules (here: the floor's bare ASGI
# apps behind a middleware that says which framework answered, so the test can see the row was followed).
FRAMEWORK = textwrap.dedent('''
    """``tagged``: the bare ASGI apps, each answer tagged with its framework's name."""

    from api_common.frameworks import Framework

    FRAMEWORK = Framework("tagged", {("model", "asgi"): "tagged_model:create_app",
                                     ("scoring", "asgi"): "tagged_scoring:create_app"})
''')

TIER_APP = textwrap.dedent("""
    from api_{tier}.bare_asgi import create_app as bare


    def create_app(settings=None):
        inner = bare(settings)

        async def app(scope, receive, send):
            async def tagged(message):
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", []), (b"x-framework", b"tagged-{tier}")]
                await send(message)

            await inner(scope, receive, tagged)

        return app
""")


def test_a_framework_of_the_users_own_is_a_row_and_one_app_per_tier(tmp_path, monkeypatch):
    rows, apps = tmp_path / "frameworks", tmp_path / "apps"
    rows.mkdir()
    apps.mkdir()
    (rows / "tagged.py").write_text(FRAMEWORK)
    for tier in ("model", "scoring"):
        (apps / f"tagged_{tier}.py").write_text(TIER_APP.format(tier=tier))
    monkeypatch.setenv("LAB_FRAMEWORK_PATH", str(rows))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(apps), os.environ.get("PYTHONPATH")])))
    assert "tagged" in frameworks.names()
    stack = make_stack(model_async={"app": "tagged"}, scoring_async={"app": "tagged"})
    lab = lab_settings(tmp_path)
    start(stack, lab)
    try:
        model = httpx.post(stack.model("async").predict_url, json=SAMPLE, timeout=5)
        scored = httpx.post(stack.scoring("async").predict_url, json=SAMPLE, timeout=5)
    finally:
        control.down(lab, log=lambda *_: None)
    assert model.headers["x-framework"] == "tagged-model" and scored.headers["x-framework"] == "tagged-scoring"
    assert scored.status_code == 200  # the scoring tier called the model tier through the same row's apps
    assert scored.json()["detail"] == pytest.approx(expected_prediction(stack, "async"))


def test_a_model_backend_of_the_users_own_is_one_module(tmp_path, monkeypatch):
    folder = tmp_path / "backends"
    folder.mkdir()
    (folder / "length.py").write_text(BACKEND)
    monkeypatch.setenv("LAB_BACKEND_PATH", str(folder))
    assert "length" in backends.names()
    stack = make_stack(model_async={"kind": "length"})
    lab = lab_settings(tmp_path)
    start(stack, lab)
    try:
        model, scoring = stack.model("async"), stack.scoring("async")
        answer = httpx.post(model.predict_url, json=SAMPLE, timeout=5).json()
        assert answer["detail"] == pytest.approx(len(SAMPLE) / 100)
        assert answer["latency_ms"] == 5.0  # its own cost, simulated by the service layer
        scored = httpx.post(scoring.predict_url, json=SAMPLE, timeout=5)
        assert scored.status_code == 200
        # The scoring handler joins the entity's features to the request's: the backend sees the longer input.
        assert scored.json()["detail"] == pytest.approx(expected_prediction(stack, "async"))
        assert scored.json()["detail"] > len(SAMPLE) / 100
        sync = httpx.post(stack.model("sync").predict_url, json=SAMPLE, timeout=5).json()
        assert sync["detail"] != answer["detail"]  # the other chain keeps the simulated model
    finally:
        control.down(lab, log=lambda *_: None)


def test_an_unknown_model_backend_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown model backend 'nope'; known: cpu, io, onnx, python, real, sklearn"):
        make_stack(model_sync={"kind": "nope"})


def test_an_experiment_of_the_users_own_is_one_module(tmp_path, monkeypatch):
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "echo.py").write_text(EXPERIMENT)
    monkeypatch.setenv("LAB_EXPERIMENT_PATH", str(folder))
    args = parser().parse_args(["echo", "--echo-calls", "7"])  # a command of its own, with its own typed flag
    assert (args.command, args.echo_calls) == ("echo", 7)
    assert "echo" not in experiments.main_job()
    assert experiments.resolve_profile("full", {}).option("echo_calls") == 100
    stack = make_stack()
    lab = lab_settings(tmp_path)
    start(stack, lab)
    try:
        profile = experiments.resolve_profile("quick", {"echo_calls": args.echo_calls})
        path = suite.run(stack, lab, profile, ("echo",), progress=lambda *_: None, label="echo")
    finally:
        control.down(lab, log=lambda *_: None)
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["options"]["echo_calls"] == 7  # recorded with the profile's options
    assert manifest["steps"]["echo"]["answered"] == {"sync": 7, "async": 7}
    (path / "report.html").unlink()
    build(path)  # rebuilt from the folder: the experiment's section is found through the registry again
    assert "answered: {&#x27;sync&#x27;: 7, &#x27;async&#x27;: 7}" in (path / "report.html").read_text()
