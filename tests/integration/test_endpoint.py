"""``lab capacity --url URL --body FILE``: the lab's capacity method on one endpoint, here the model tier of a real
stack, and the endpoint's or body's faults said in one line before any load is sent."""

from __future__ import annotations

import json

import pytest

from api_common.contract import SAMPLE
from benchmark.loadgen import capacity
from cli import main as cli
from lab import control
from tests.conftest import lab_settings, make_stack, start

pytestmark = pytest.mark.integration
# A short search: a bracket, then one round, within 45 s of probing (the tier answers hundreds of QPS).
SHORT = ["--capacity-probe-s", "1", "--capacity-rounds", "1", "--capacity-budget-s", "45"]


@pytest.fixture(scope="module")
def model_tier(tmp_path_factory):
    stack = make_stack()
    lab = lab_settings(tmp_path_factory.mktemp("endpoint"))
    start(stack, lab)
    try:
        yield stack.model("async").predict_url, lab
    finally:
        control.down(lab, log=lambda *_: None)


def test_the_capacity_of_one_endpoint_with_its_interval_and_report(model_tier, tmp_path, monkeypatch, capsys):
    url, lab = model_tier
    body = tmp_path / "body.json"
    body.write_text(json.dumps(SAMPLE))  # the model API's own request: a feature vector
    monkeypatch.setenv("LAB_RESULTS_DIR", str(tmp_path / "results"))
    assert cli.main(["capacity", "--url", url, "--body", str(body), *SHORT]) == 0
    run = next((tmp_path / "results").glob("*-capacity-endpoint"))
    cap = capacity.load(run / "loadgen" / "endpoint")
    assert cap is not None and cap.qps > 0 and cap.low is not None and cap.low <= cap.qps <= cap.high
    assert json.loads((run / "body.json").read_text()) == SAMPLE  # what was sent, kept beside what it measured
    passed = [p for p in cap.probes if p.passed]
    assert passed and all(p.errors == 0 for p in passed)
    report = (run / "report.html").read_text()
    assert "Capacity of the endpoint" in report and url in report
    assert "report:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("body", "said"),
    [(None, "no such file"), ("not json", "not JSON"), (json.dumps({"features": "x"}), "answered 422")],
)  # fmt: skip
def test_a_bad_body_or_endpoint_is_one_line_and_exit_2(model_tier, tmp_path, monkeypatch, capsys, body, said):
    url, _ = model_tier
    path = tmp_path / "body.json"
    if body is not None:
        path.write_text(body)
    monkeypatch.setenv("LAB_RESULTS_DIR", str(tmp_path / "results"))
    assert cli.main(["capacity", "--url", url, "--body", str(path), *SHORT]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and said in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "results").exists()  # nothing measured, no run folder


def test_an_endpoint_where_nothing_answers(tmp_path, capsys):
    from api_common.ports import free_port

    path = tmp_path / "body.json"
    path.write_text("[1.0]")
    assert cli.main(["capacity", "--url", f"http://127.0.0.1:{free_port()}/predict", "--body", str(path)]) == 2
    assert "no answer" in capsys.readouterr().err
