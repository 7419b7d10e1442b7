"""The programs that the model-server modules of api_common/servers start, one module per server.

Each serves the lab's model API on its port with the server's own batching: a batch of items, each a
feature vector and a model name, answered by the same backend (api_model/backends) as every other model
API, one backend call per model name in the batch, so an answer equals the lab's own model API's. What
they share is here: the settings (rebuilt from the environment the launcher set), an item's validation
(the lab's schema: a 422 in the lab's error shape), the batch's answer, and the batch sizes formed.

The sizes are counted by each worker process and written, at most every ``FLUSH_S``, to a JSON file of its own
in the service's metrics folder (``LAB_BATCH_DIR``, set by the launcher); benchmark/suite.py's ``collect``
adds them up as the lab's ``model_batch_size`` histogram. Not Prometheus' multiprocess files, as the lab's own
model APIs keep them: BentoML points its workers' ``PROMETHEUS_MULTIPROC_DIR`` at a folder of its own, and
no server's own metrics say the sizes of the batches it formed.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from api_common.errors import ApiError
from api_model.schemas import FEATURES, check_model_name
from api_model.service import plan_batch, run_blocking, warm
from api_model.settings import ModelApiSettings

SETTINGS_ENV = "LAB_MODEL_SETTINGS"  # module:class of the model API's settings (its env prefix says the chain)
BATCH_DIR_ENV = "LAB_BATCH_DIR"
FLUSH_S = 0.5


def settings_class_path(settings: ModelApiSettings) -> str:
    cls = type(settings)
    return f"{cls.__module__}:{cls.__name__}"


def load_settings(path: str | None = None) -> ModelApiSettings:
    module, name = (path or os.environ[SETTINGS_ENV]).split(":")
    return getattr(importlib.import_module(module), name)()


@dataclass(frozen=True)
class Item:
    features: list[float]
    model: str


def item(body: Any, default_model: str) -> Item:
    """One prediction's item from a JSON body ``{"features": [...], "model": name}``; a 422 if it is not one."""
    if not isinstance(body, dict) or "features" not in body:
        raise ApiError(422, "validation_error", 'expected a JSON object {"features": [numbers], "model": name}')
    try:
        features = FEATURES.validate_python(body["features"], strict=True)
    except ValidationError as exc:
        raise ApiError(422, "validation_error", "features must be 1 to 1000 finite numbers",
                       details=[e["msg"] for e in exc.errors()][:5]) from None  # fmt: skip
    name = body.get("model", default_model)
    if not isinstance(name, str):
        raise ApiError(422, "validation_error", "model must be a string")
    return Item(features, check_model_name(name))


class BatchCounts:
    """The sizes of the batches one process formed, written to ``folder/batches-PID.json`` (atomically)."""

    def __init__(self, folder: str | None):
        self.folder, self.sizes, self.lock = folder, Counter(), threading.Lock()
        if folder:
            threading.Thread(target=self._flusher, daemon=True).start()

    def observe(self, size: int) -> None:
        with self.lock:
            self.sizes[size] += 1

    def flush(self) -> None:
        if not self.folder:
            return
        with self.lock:
            data = json.dumps({str(k): v for k, v in self.sizes.items()})
        path = os.path.join(self.folder, f"batches-{os.getpid()}.json")
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            f.write(data)
        os.replace(tmp, path)

    def _flusher(self) -> None:
        while True:
            time.sleep(FLUSH_S)
            try:
                self.flush()
            except OSError:  # the folder went away with the run: nothing to keep
                return


def read_counts(folder: str | os.PathLike) -> Counter:
    """The batch sizes every process of a model server wrote to ``folder``, added up."""
    total: Counter = Counter()
    for name in os.listdir(folder):
        if name.startswith("batches-") and name.endswith(".json"):
            try:
                with open(os.path.join(folder, name)) as f:
                    total.update({int(k): v for k, v in json.load(f).items()})
            except (OSError, ValueError):
                continue
    return total


class Batches:
    """Answers batches of items and counts their sizes, in one worker process of a model server."""

    def __init__(self, settings: ModelApiSettings | None = None):
        self.settings = settings or load_settings()
        warm(self.settings)
        self.counts = BatchCounts(os.environ.get(BATCH_DIR_ENV))

    def answer(self, items: list[Item]) -> list[dict]:
        """The prediction of every item, in order: one backend call per model name (its scores alone and in
        a batch are the same, item for item)."""
        by_model: dict[str, list[int]] = defaultdict(list)
        for i, it in enumerate(items):
            by_model[it.model].append(i)
        out: list[dict] = [{}] * len(items)
        self.counts.observe(len(items))
        for name, idx in by_model.items():
            results = run_blocking(self.settings, plan_batch(self.settings, [items[i].features for i in idx], name))
            for i, res in zip(idx, results, strict=True):
                out[i] = res
        return out
