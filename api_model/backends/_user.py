"""A user's own model, from a file or a function, with no code of theirs: what every loader shares.

A loader (``onnx``, ``sklearn``, ``torchscript``, ``python``: one backend module each) opens the model named by the
setting ``model_path`` in the worker process, after the server forked it (never before: torch hangs a worker forked
with its locks held, and an onnxruntime session must not cross a fork), with the runtime's threads set to
``model_threads``. A request stays the lab's contract, a flat vector of numbers; each item is reshaped to the model's
input for one example (``model_input_shape``, from the user's example or the ONNX signature) and a batch is the
items stacked, one call. The model's own outputs for an item (a classifier's class probabilities, a regressor's
values) travel in the answer beside the lab's one score: a classifier's top probability, else the first value.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from api_common.errors import ApiError
from api_model.backends import Backend, ModelApiSettings, score

# A file's ending, or ``module:callable``, says which loader opens it.
KINDS = {".onnx": "onnx", ".joblib": "sklearn", ".pkl": "sklearn", ".pickle": "sklearn", ".pt": "torchscript",
         ".pth": "torchscript", ".ts": "torchscript"}  # fmt: skip


class NotAModel(ValueError):
    """What a user named is not a model a loader can open."""


def kind_of(path: str) -> str:
    """The loader for ``path``: by its ending, or ``python`` for ``module:callable``."""
    if ":" in path and not os.path.exists(path):
        module, _, function = path.partition(":")
        if module and function.isidentifier():
            return "python"
    ending = os.path.splitext(path)[1].lower()
    if ending not in KINDS:
        raise NotAModel(f"{path}: not a model the lab can load (an ONNX file .onnx, a scikit-learn estimator saved "
                        f"with joblib or pickle .joblib/.pkl, a TorchScript file .pt, or module:callable)")  # fmt: skip
    if not os.path.isfile(path):
        raise NotAModel(f"{path}: no such file")
    return KINDS[ending]


@dataclass(frozen=True)
class Loaded:
    """A model opened in this process: ``run`` maps a stacked batch to one row of outputs per item."""

    run: Callable[[np.ndarray], np.ndarray]
    item_shape: tuple[int, ...]  # one example's input
    dtype: np.dtype


def stack(items: list[list[float]], shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """The items as the model's batch; a 422 naming the shape it takes for an item of the wrong length."""
    size = math.prod(shape)
    wrong = next((len(x) for x in items if len(x) != size), None)
    if wrong is not None:
        raise ApiError(422, "validation_error", f"the model takes {size} values per item (its input shape "
                       f"{list(shape)}); the request has {wrong}")  # fmt: skip
    return np.asarray(items, dtype=dtype).reshape((len(items), *shape))


def rows(out, n: int) -> np.ndarray:
    """A model's answer for ``n`` items as an (n, k) array of floats: a classifier's probabilities, a regressor's
    values. A list of dicts (scikit-learn's ZipMap in an ONNX classifier) becomes its values in key order."""
    if isinstance(out, list) and out and isinstance(out[0], dict):
        out = [[d[k] for k in sorted(d)] for d in out]
    arr = np.asarray(out, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[0] != n:
        raise ApiError(500, "model_error", f"the model answered {n} items with an output of shape {list(arr.shape)}")
    return arr.reshape(n, -1)


def shape_setting(settings: ModelApiSettings, what: str) -> tuple[int, ...]:
    shape = getattr(settings, "model_input_shape", None)
    if not shape:
        raise NotAModel(f"{settings.model_path}: {what} does not say its input's shape: give an example request "
                        "(lab advise --example FILE, or MODEL_*_MODEL_INPUT_SHAPE)")  # fmt: skip
    return tuple(shape)


def backend(name: str, open_: Callable[[ModelApiSettings], Loaded], describes: str, startup_s: float = 0.0) -> Backend:
    """A loader's backend: ``open_`` loads the model in this process (once per process, path and threads)."""

    @lru_cache(maxsize=4)
    def load(path: str, threads: int, shape: tuple[int, ...] | None, pid: int) -> Loaded:  # pid: never across a fork
        return open_(_Opened(path, threads, list(shape) if shape else None))

    def loaded(settings: ModelApiSettings) -> Loaded:
        shape = getattr(settings, "model_input_shape", None)
        return load(settings.model_path, settings.model_threads, tuple(shape) if shape else None, os.getpid())

    def outputs(settings: ModelApiSettings, items: list[list[float]]) -> np.ndarray:
        model = loaded(settings)
        batch = stack(items, model.item_shape, model.dtype)
        try:
            out = model.run(batch)
        except ApiError:
            raise
        except Exception as exc:  # the user's model refused or broke: said plainly, never a bare 500
            raise ApiError(500, "model_error", f"the model raised {type(exc).__name__}: {str(exc)[:300]}") from None
        return rows(out, len(items))

    return Backend(
        name, lambda s, model_name, items: [score(o) for o in outputs(s, items)], warm=loaded, describes=describes,
        outputs=lambda s, items: outputs(s, items).tolist(), startup_s=startup_s,
    )  # fmt: skip


@dataclass(frozen=True)
class _Opened:
    """What a loader reads of the settings (hashable, so the loaded model is kept once per process)."""

    model_path: str
    model_threads: int
    model_input_shape: list[int] | None
