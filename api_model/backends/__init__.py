"""The model backends a model API serves: one module each in this package, found by name.

A backend module defines ``BACKEND``, a :class:`Backend`: the scores of model ``name`` for a batch of
feature vectors, and what a call costs beside them: a simulated time to wait (a remote or
accelerator-bound model) or to burn (a CPU-bound one), on top of its own computation. The model API's
setting ``kind`` names it. Adding a backend, the user's own model included, is adding one module here
or in a folder named by ``LAB_BACKEND_PATH``; it must load what it needs from the disk (nothing is
fetched at run time) and should do so in ``warm``, when a worker starts, not on its first request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from api_common.registry import Registry
from api_model.model import draw_latency_ms


class ModelApiSettings(Protocol):
    """What a backend reads of the model API's settings: ``api_model.settings.ModelApiSettings``, which names its
    backend and asks this registry for it, so this module sits below the settings and does not import them."""

    latency_min_ms: float
    latency_max_ms: float
    batch_item_ms: float
    model_dir: Path
    model_threads: int
    model_path: str
    model_input_shape: list[int] | None


PROBABILITY_TOLERANCE = 1e-3  # a classifier's probabilities sum to 1 within this


def score(outputs) -> float:
    """The lab's one score of a model's own outputs for an item: a classifier's top probability, else the first
    value (a backend with ``outputs`` answers it as its ``detail``)."""
    outputs = np.asarray(outputs, dtype=np.float64)
    probabilities = len(outputs) > 1 and outputs.min() >= 0 and abs(outputs.sum() - 1) < PROBABILITY_TOLERANCE
    return float(outputs.max() if probabilities else outputs[0])


def simulated_ms(settings: ModelApiSettings, n: int, single: bool) -> float:
    """One draw from the latency range, plus the per-item cost of a batch (``a + b.n``); a single prediction
    costs one draw."""
    draw = draw_latency_ms(settings.latency_min_ms, settings.latency_max_ms)
    return draw if single else draw + settings.batch_item_ms * n


@dataclass(frozen=True)
class Backend:
    name: str
    # (settings, model name, feature vectors) -> one score in [0, 1] per vector, item for item the same
    # alone or in a batch.
    scores: Callable[[ModelApiSettings, str, list[list[float]]], list[float]]
    # (settings, items, single) -> the simulated milliseconds of a call beside its computation.
    cost_ms: Callable[[ModelApiSettings, int, bool], float] = lambda s, n, single: 0.0
    # Whether the simulated time is CPU burnt (it blocks an event loop) rather than waited.
    burns: bool = False
    warm: Callable[[ModelApiSettings], None] = lambda s: None  # load the model when a worker starts
    # What the report says the model is ("simulated, waits", "scikit-learn MLP").
    describes: str = ""
    # (settings, feature vectors) -> the model's own outputs per item (a classifier's probabilities, a regressor's
    # values), answered beside the score; None for a model whose score is all it says (api_model/backends/_user.py).
    outputs: Callable[[ModelApiSettings, list[list[float]]], list[list[float]]] | None = None
    # How long a worker may take to load it (``warm``) before it answers its health check, at least, on a busy
    # machine; the lab's startup timeout when longer. The sentence encoder takes 5.5 s of CPU per worker here
    # when idle, torch 1.4 s to import: three such chains started at once on 2 cores outlast the lab's 30 s.
    startup_s: float = 0.0


TORCH_STARTUP_S = 90.0  # a backend that imports torch (a CPU build's import alone: 1.4 s idle here)


REGISTRY: Registry[Backend] = Registry(__name__, __path__, "BACKEND", "LAB_BACKEND_PATH", "model backend")
names, get = REGISTRY.names, REGISTRY.get
