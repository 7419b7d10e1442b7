"""A user's own model with no code: each loader opens a file (or a function) the way a user hands it over, and the
answer carries the model's own outputs, equal to the model run in Python."""

from __future__ import annotations

import sys
import textwrap

import joblib
import numpy as np
import pytest
from fastapi.testclient import TestClient

from api_model import backends
from api_model.backends import _user
from api_model.backends.real import _train as train_mlp
from api_model.fastapi_app import create_app
from api_model.settings import ModelAsyncSettings

DIGITS = 64
# Within float32 (ONNX, TorchScript) of float64 (scikit-learn) probabilities.
TOLERANCE = {"onnx": 1e-5, "sklearn": 1e-12, "torchscript": 1e-5, "python": 1e-12}


@pytest.fixture(scope="module")
def mlp():
    return train_mlp()  # the lab's scikit-learn MLP of the 8x8 digits, trained as the real backend trains it


@pytest.fixture(scope="module")
def items():
    from sklearn.datasets import load_digits

    return load_digits().data[:5].tolist()


@pytest.fixture(scope="module")
def files(tmp_path_factory, mlp):
    """The MLP as a user exports it: a joblib file, and an ONNX file through skl2onnx (its ZipMap kept; skl2onnx is a
    dev dependency: the images' unit tests run without it, and without the ONNX file)."""
    folder = tmp_path_factory.mktemp("user-models")
    joblib.dump(mlp, folder / "mlp.joblib")
    try:
        from skl2onnx import to_onnx
    except ImportError:
        return folder
    onx = to_onnx(mlp, np.zeros((1, DIGITS), dtype=np.float32), target_opset=17)
    (folder / "mlp.onnx").write_bytes(onx.SerializeToString())
    return folder


def onnx_file(files):
    if not (files / "mlp.onnx").exists():
        pytest.skip("skl2onnx (the dev extra) exports the ONNX file")
    return files / "mlp.onnx"


def settings(kind: str, path, shape=None, **kw) -> ModelAsyncSettings:
    return ModelAsyncSettings(kind=kind, model_path=str(path), model_input_shape=shape, **kw)


@pytest.mark.parametrize("kind", ["sklearn", "onnx"])
def test_an_estimator_file_answers_its_own_probabilities(kind, files, mlp, items):
    s = settings(kind, files / "mlp.joblib" if kind == "sklearn" else onnx_file(files))
    outputs = np.asarray(backends.get(kind).outputs(s, items))
    expected = mlp.predict_proba(np.asarray(items))
    assert outputs.shape == expected.shape == (5, 10)
    assert np.allclose(outputs, expected, atol=TOLERANCE[kind])
    scores = backends.get(kind).scores(s, "default", items)
    assert scores == pytest.approx(expected.max(axis=1).tolist(), abs=TOLERANCE[kind])  # the top probability
    # Alone and in a batch: the same answer, item for item.
    alone = [backends.get(kind).outputs(s, [x])[0] for x in items]
    assert np.allclose(alone, outputs, atol=TOLERANCE[kind])


def test_a_torchscript_file_answers_as_the_module_in_python(tmp_path, items):
    torch = pytest.importorskip("torch")  # make servers installs it (make check runs without)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(DIGITS, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3)).eval()
    torch.jit.script(net).save(str(tmp_path / "net.pt"))
    s = settings("torchscript", tmp_path / "net.pt", [DIGITS])
    outputs = np.asarray(backends.get("torchscript").outputs(s, items))
    with torch.inference_mode():
        expected = net(torch.tensor(items, dtype=torch.float32)).numpy()
    assert np.allclose(outputs, expected, atol=TOLERANCE["torchscript"])
    assert backends.get("torchscript").scores(s, "m", items) == pytest.approx(expected[:, 0].tolist(), abs=1e-5)


def test_a_function_of_a_batch_is_a_model(tmp_path, monkeypatch, items):
    (tmp_path / "users_model.py").write_text(
        textwrap.dedent("""
        import numpy as np

        def predict(batch):
            return np.stack([batch.mean(axis=(1, 2)), batch.max(axis=(1, 2))], axis=1)
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    s = settings("python", "users_model:predict", [8, 8])  # the example's shape: an 8x8 image per item
    outputs = np.asarray(backends.get("python").outputs(s, items))
    images = np.asarray(items).reshape(5, 8, 8)
    assert np.allclose(outputs[:, 0], images.mean(axis=(1, 2))) and np.allclose(outputs[:, 1], images.max(axis=(1, 2)))
    sys.modules.pop("users_model", None)


def test_the_model_api_answers_a_users_model_with_its_outputs(files, mlp, items):
    app = create_app(settings("onnx", onnx_file(files)))
    with TestClient(app) as client:
        answer = client.post("/api/v1/ml/async/predict", json=items[0])
        assert answer.status_code == 200
        body = answer.json()
        assert np.allclose(body["outputs"], mlp.predict_proba(np.asarray(items[:1]))[0], atol=1e-5)
        assert body["detail"] == pytest.approx(max(body["outputs"]))
        short = client.post("/api/v1/ml/async/predict", json=items[0][:10])  # not the model's input
        assert short.status_code == 422
        assert (
            short.json()["message"] == "the model takes 64 values per item (its input shape [64]); the request has 10"
        )
        batch = client.post("/api/v1/ml/async/predict/batch", json=items[:3])
        expected = mlp.predict_proba(np.asarray(items[:3]))
        assert np.allclose([r["outputs"] for r in batch.json()], expected, atol=1e-5)


def test_the_lab_models_answer_no_outputs_field():
    app = create_app(ModelAsyncSettings(latency_min_ms=0, latency_max_ms=0))
    with TestClient(app) as client:
        assert "outputs" not in client.post("/api/v1/ml/async/predict", json=[1.0, 2.0]).json()


@pytest.mark.parametrize(
    ("path", "said"),
    [("model.txt", "not a model the lab can load"), ("missing.onnx", "no such file"),
     ("nomodule_xyz:predict", "cannot import it")],
)  # fmt: skip
def test_what_is_not_a_model_is_said_plainly(tmp_path, path, said):
    with pytest.raises(_user.NotAModel, match=said):
        kind = _user.kind_of(str(tmp_path / path) if "." in path and ":" not in path else path)
        backends.get(kind).warm(settings(kind, path, [4]))


def test_a_file_that_is_not_onnx_and_a_torchscript_without_its_shape(tmp_path):
    (tmp_path / "fake.onnx").write_bytes(b"not a model")
    with pytest.raises(_user.NotAModel, match="onnxruntime cannot load it"):
        backends.get("onnx").warm(settings("onnx", tmp_path / "fake.onnx"))
    (tmp_path / "fake.pt").write_bytes(b"not a model")
    with pytest.raises(_user.NotAModel, match="example"):
        _user.shape_setting(settings("torchscript", tmp_path / "fake.pt"), "a TorchScript file")


def test_the_loader_is_chosen_by_the_files_kind(tmp_path):
    for name, kind in (("m.onnx", "onnx"), ("m.joblib", "sklearn"), ("m.pkl", "sklearn"), ("m.pt", "torchscript")):
        (tmp_path / name).write_bytes(b"")
        assert _user.kind_of(str(tmp_path / name)) == kind
    assert _user.kind_of("package.module:predict") == "python"
