"""The user's model, examined before any search starts: what it is, the request it takes, what it answers, and
whether a single call can meet the bound at all. Each fault is one line (``BadInput``), and the advisor exits 2."""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from api_common.errors import ApiError
from api_model import backends
from api_model.backends import _user
from api_model.settings import ModelAsyncSettings

TIMED_CALLS = 7  # single calls timed in process: their median says whether the bound can be met at all


class BadInput(ValueError):
    """A model, example or space the advisor cannot work with, said in one line."""


@dataclass(frozen=True)
class UserModel:
    path: str  # absolute for a file, as given for module:callable
    kind: str  # the loader: onnx, sklearn, torchscript, python
    example: list[float]  # one request, flat: the lab's contract
    shape: list[int]  # one item's input, as the model takes it
    outputs: list[float]  # the model's own answer to the example, run here in Python
    score: float  # the lab's one score of it
    single_ms: float  # the median of a single call, in this process

    def settings(self) -> dict:
        """The model tier's settings that serve this model (beside a candidate's own)."""
        return {"kind": self.kind, "model_path": self.path, "model_input_shape": self.shape}


def _example(path: Path | None) -> tuple[list[float], list[int]] | None:
    if path is None:
        return None
    try:
        body = json.loads(path.read_text())
        arr = np.asarray(body, dtype=np.float64)
    except OSError as exc:
        raise BadInput(f"--example {path}: {exc.strerror or exc}") from None
    except (ValueError, TypeError):
        raise BadInput(f"--example {path}: not a JSON array of numbers (one request: one item's input)") from None
    if arr.ndim == 0 or arr.size == 0 or not np.isfinite(arr).all():
        raise BadInput(f"--example {path}: not a JSON array of finite numbers")
    return arr.ravel().tolist(), list(arr.shape)


def examine(model: str, example: Path | None, bound_ms: float, threads: int = 1) -> UserModel:
    """Load the model here, answer its example, time single calls; ``BadInput`` on the first fault."""
    try:
        kind = _user.kind_of(model)
    except _user.NotAModel as exc:
        raise BadInput(str(exc)) from None
    path = os.path.abspath(model) if kind != "python" else model
    given = _example(example)
    settings = ModelAsyncSettings(kind=kind, model_path=path, model_input_shape=given[1] if given else None,
                                  model_threads=threads)  # fmt: skip
    backend = backends.get(kind)
    try:
        loaded = backend.warm(settings)
    except _user.NotAModel as exc:
        raise BadInput(str(exc)) from None
    shape = list(loaded.item_shape)
    features = given[0] if given else [0.0] * math.prod(shape)  # an ONNX signature alone: zeros of its shape
    try:
        outputs = backend.outputs(settings, [features])[0]
        times = []
        for _ in range(TIMED_CALLS):
            t0 = time.perf_counter()
            backend.outputs(settings, [features])
            times.append(1000 * (time.perf_counter() - t0))
    except ApiError as exc:
        if exc.status == 422:
            raise BadInput(f"the model rejects the example: {exc.message}") from None
        raise BadInput(f"{model}: {exc.message}") from None
    if not outputs or not all(isinstance(o, float) and math.isfinite(o) for o in outputs):
        raise BadInput(f"{model}: it answered {outputs!r} to the example, not a score (finite numbers)")
    single = statistics.median(times)
    if single > bound_ms:
        raise BadInput(f"{model}: one call takes {single:.0f} ms here (median of {TIMED_CALLS}), over the bound of "
                       f"{bound_ms:g} ms: no configuration can meet it")  # fmt: skip
    return UserModel(path, kind, features, shape, outputs, backends.score(outputs), single)
