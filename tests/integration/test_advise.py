"""``lab advise`` on a real model file: a race of real candidates on this machine, a report whose first lines give
the answer, and a configuration that ``lab up --config`` starts and that answers as the model does in Python; every
bad input is one line and exit 2 before anything starts."""

from __future__ import annotations

import json
import textwrap

import httpx
import numpy as np
import pytest

from benchmark.advise import examples
from cli import main as cli
from lab import control
from lab.settings import LabSettings

pytestmark = pytest.mark.integration
# Three cheap candidates, short probes, a budget of a few minutes: the method, not the figures.
SHORT = ["--only", "uvicorn-w1-t1,granian-w1-t1,gunicorn-gthread-w1x4-t1", "--budget-min", "3",
         "--capacity-probe-s", "1"]  # fmt: skip


@pytest.fixture(scope="module")
def user_model(tmp_path_factory):
    """The lab's scikit-learn MLP exported as a user would (``make example-model``): an ONNX file (skl2onnx), and one
    example request."""
    from api_model.backends.real import _train

    folder = tmp_path_factory.mktemp("model")
    examples.export(folder, say=lambda line: None)
    return folder, _train(), examples.example()


@pytest.fixture
def lab_env(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LAB_RESULTS_DIR", str(tmp_path / "results"))
    return tmp_path


def test_advise_races_real_candidates_and_its_answer_runs(user_model, lab_env, capsys):
    folder, mlp, example = user_model
    argv = ["advise", "--model", str(folder / "mlp.onnx"), "--example", str(folder / "example.json"), *SHORT]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    run = next((lab_env / "results").glob("*-advise"))
    summary = json.loads((run / "summary.json").read_text())
    fates = {r["name"]: r["fate"] for r in summary["rows"]}
    assert len(fates) == 3 and list(fates.values()).count("leader") == 1
    assert set(fates.values()) <= {"leader", "equivalent", "dropped", "unresolved", "failed"}
    rec = json.loads((run / "recommended.json").read_text())
    assert fates[rec["candidate"]] in ("leader", "equivalent")
    assert f"run: {rec['candidate']}" in out  # the terminal's answer, as the report's first lines
    report = (run / "report.html").read_text()
    assert report.index("Advice: what to run") < report.index("Every candidate and its fate")
    assert (run / "recommended.env").read_text().count("MODEL_") >= 4 and (run / "recommended.compose.yml").exists()
    lab = LabSettings()
    assert control.state_file(lab.model_copy(update={"state_dir": lab.state_dir / "advise"})).read() == []
    # The answer runs: lab up --config serves the model, and answers the example as the model does in Python.
    assert cli.main(["up", "--config", str(run / "recommended.json")]) == 0
    try:
        url = capsys.readouterr().out.split("POST ", 1)[1].split(";", 1)[0]
        body = httpx.post(url, json=example, timeout=10).json()
    finally:
        control.down(lab, log=lambda *_: None)
    expected = mlp.predict_proba(np.asarray([example]))[0]
    assert np.allclose(body["outputs"], expected, atol=1e-5)  # float32 (onnxruntime) against float64 (sklearn)
    assert body["detail"] == pytest.approx(expected.max(), abs=1e-5)


def test_advise_chain_measures_through_the_scoring_handlers(user_model, lab_env, capsys):
    """``--chain``: one candidate per chain, each behind its own twin's scoring handler and the run's Redis; the
    answer through the chain (the example joined back from the store) must be the model's own, or the candidate
    fails its check."""
    folder, _, _ = user_model
    argv = ["advise", "--model", str(folder / "mlp.onnx"), "--example", str(folder / "example.json"), "--chain",
            "--only", "uvicorn-w1-t1,gunicorn-gthread-w1x4-t1", "--budget-min", "2",
            "--capacity-probe-s", "1"]  # fmt: skip
    assert cli.main(argv) == 0
    assert "capacity through the scoring handler at p99" in capsys.readouterr().out
    run = next((lab_env / "results").glob("*-advise"))
    assert json.loads((run / "manifest.json").read_text())["options"]["chain"] is True
    for name in ("uvicorn-w1-t1", "gunicorn-gthread-w1x4-t1"):
        status = json.loads((run / "candidates" / name / "status.json").read_text())
        assert "failed" not in status, status  # started, and answered the model's own score through the chain
        assert 0 < status["scoring_rss_mb"] < status["model_rss_mb"]  # both tiers' memory, the scoring one's apart
        body = json.loads((run / "candidates" / name / "body.json").read_text())
        assert body["entity_id"] and len(body["features"]) == 64 - 4  # four of the example's 64 come from Redis
    lab = LabSettings()
    assert control.state_file(lab.model_copy(update={"state_dir": lab.state_dir / "advise"})).read() == []


BAD_MODELS = {
    "raises.py": "def predict(batch):\n    raise RuntimeError('weights missing')\n",
    "nan.py": "import numpy as np\ndef predict(batch):\n    return np.full((len(batch), 1), np.nan)\n",
    "slow.py": "import time\ndef predict(batch):\n    time.sleep(0.08)\n    return batch[:, :1]\n",
}


@pytest.mark.parametrize(
    ("model", "example", "extra", "said"),
    [
        ("notes.txt", "[1.0]", [], "not a model the lab can load"),
        ("mlp.onnx", "[1.0, 2.0]", [], "the model rejects the example: the model takes 64 values per item"),
        ("raises:predict", "[1.0]", [], "the model raised RuntimeError: weights missing"),
        ("nan:predict", "[1.0]", [], "not a score"),
        ("slow:predict", "[1.0]", ["--capacity-bound-ms", "50"], "over the bound of 50 ms: no configuration can"),
        ("mlp.onnx", None, ["--only", "nothing-of-the-kind"], "no candidate is left"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2_before_anything_starts(
    user_model, lab_env, monkeypatch, capsys, model, example, extra, said
):  # fmt: skip
    folder, _, _ = user_model
    for name, text in BAD_MODELS.items():
        (lab_env / name).write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(lab_env))
    (lab_env / "notes.txt").write_text("not a model")
    path = str(folder / model) if model == "mlp.onnx" else str(lab_env / model) if "." in model else model
    argv = ["advise", "--model", path]
    if example is not None:
        (lab_env / "example.json").write_text(example)
        argv += ["--example", str(lab_env / "example.json")]
    assert cli.main(argv + extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and said in err and len(err.strip().splitlines()) == 1
    assert not (lab_env / "results").exists()  # nothing ran
