"""The example models ``make example-model`` writes answer as the lab's own backends do, and a file already there is
kept, never written over."""

from __future__ import annotations

import json

import numpy as np
import pytest

from api_model import backends
from api_model.backends import real
from api_model.settings import ModelAsyncSettings
from benchmark.advise import examples

TOLERANCE = 1e-5  # float32 runtimes (onnxruntime, torch) against float64 (scikit-learn)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return folder, examples.export(folder, say=lambda line: None)


def _outputs(kind: str, path, shape=None) -> np.ndarray:
    s = ModelAsyncSettings(kind=kind, model_path=str(path), model_input_shape=shape)
    return np.asarray(backends.get(kind).outputs(s, [examples.example()])[0])


def test_the_estimator_files_answer_as_the_real_backends_model(exported):
    folder, written = exported
    expected = real._train().predict_proba([examples.example()])[0]
    assert json.loads((folder / "example.json").read_text()) == examples.example()
    assert np.allclose(_outputs("sklearn", written["mlp.joblib"]), expected, atol=1e-12)
    if "mlp.onnx" not in written:
        pytest.skip("skl2onnx (the dev extra) exports the ONNX file")
    assert np.allclose(_outputs("onnx", written["mlp.onnx"]), expected, atol=TOLERANCE)


def test_the_torchscript_file_answers_as_the_torch_backend(exported, tmp_path):
    pytest.importorskip("torch")  # make servers installs it
    from api_model.backends import torch as torch_backend

    _, written = exported
    expected = torch_backend.probabilities(tmp_path, [examples.example()])[0]
    assert np.allclose(_outputs("torchscript", written["mlp.pt"], [real.PIXELS]), expected, atol=TOLERANCE)


def test_a_file_already_there_is_kept(tmp_path):
    (tmp_path / "example.json").write_text("[1, 2]\n")
    said = []
    examples.export(tmp_path, say=said.append)
    assert (tmp_path / "example.json").read_text() == "[1, 2]\n"
    assert any("example.json: kept" in line for line in said)
