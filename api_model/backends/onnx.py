"""``onnx``: a user's ONNX file, run by onnxruntime's ``InferenceSession`` on the CPU provider, ``model_threads``
intra-op threads and one inter-op thread per worker process. The input's shape for one item comes from the model's
signature (its first input, the batch dimension left out), else from the user's example."""

from __future__ import annotations

import numpy as np

from api_model.backends._user import Loaded, NotAModel, backend, shape_setting

# onnxruntime's tensor types as numpy's.
DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
          "tensor(int32)": np.int32, "tensor(float16)": np.float16}  # fmt: skip


def _open(settings) -> Loaded:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = settings.model_threads, 1
    try:
        session = ort.InferenceSession(settings.model_path, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own errors (a file that is not ONNX, an unsupported operator)
        raise NotAModel(f"{settings.model_path}: onnxruntime cannot load it: {str(exc)[:300]}") from None
    first = session.get_inputs()[0]
    if first.type not in DTYPES:
        raise NotAModel(f"{settings.model_path}: its input {first.name!r} is {first.type}, not a numeric tensor")
    dims = first.shape[1:]
    static = all(isinstance(d, int) and d > 0 for d in dims)
    shape = tuple(dims) if static and dims else shape_setting(settings, "its ONNX signature")
    names = [o.name for o in session.get_outputs()]
    # A scikit-learn classifier exported by skl2onnx answers (label, probabilities): the probabilities are the
    # outputs the user checks against predict_proba; any other model, its first output.
    chosen = next((n for n in names if "prob" in n.lower()), names[0])

    def run(batch: np.ndarray):
        return session.run([chosen], {first.name: batch})[0]

    return Loaded(run, shape, np.dtype(DTYPES[first.type]))


BACKEND = backend("onnx", _open, "the user's ONNX model (onnxruntime, CPU)")
