"""The real model kind: a scikit-learn classifier of the 8x8 digits that ship inside scikit-learn.

Trained once, deterministically (fixed seed, fixed split), and cached under the lab's state folder, so
every worker process loads the same model instead of training its own. A request's features become
the 64 pixels of an image (the first 64, padded with zeros, clipped to the data set's 0-16 range); the
prediction of model ``name`` is the probability of one digit class, chosen from the name. A batch is one
``predict_proba`` call on the stacked images: the vectorised work that batching amortises.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pickle
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from api_model.backends import Backend

PIXELS = 64  # 8 x 8
MAX_PIXEL = 16.0
TRAIN_S = 60.0  # a first start trains it: 2.4 s alone here, with a busy machine's margin
VERSION = "digits-mlp-1"  # change it with the training recipe: the cache file is named after it


def _train():
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier

    digits = load_digits()
    # A multi-layer perceptron, as the neighbour lab served for MNIST; small enough to train in seconds.
    model = MLPClassifier(hidden_layer_sizes=(64,), max_iter=300, random_state=0)
    model.fit(digits.data, digits.target)
    return model


def cache_path(model_dir: str | Path) -> Path:
    return Path(model_dir) / f"{VERSION}.pkl"


@lru_cache(maxsize=4)
def load(model_dir: str) -> object:
    """The trained model: from the cache, else trained and cached. One process trains, under a lock; the others
    (a server's workers, started together) wait for its file: five workers each training their own on two busy
    cores took over the 30 s a start may take (CI, 2026-12-05), one alone takes 2.4 s here."""
    path = cache_path(model_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when this process dies
            if not path.exists():
                fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
                with os.fdopen(fd, "wb") as f:
                    pickle.dump(_train(), f)
                os.replace(tmp, path)
    return pickle.loads(path.read_bytes())


def digit(name: str) -> int:
    """The class whose probability model ``name`` answers."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % 10


def images(batch: list[list[float]]) -> np.ndarray:
    out = np.zeros((len(batch), PIXELS))
    for i, features in enumerate(batch):
        row = features[:PIXELS]
        out[i, : len(row)] = row
    return np.clip(out, 0.0, MAX_PIXEL)


def scores(model_dir: str | Path, name: str, batch: list[list[float]]) -> list[float]:
    """Model ``name``'s prediction for each feature vector of ``batch``, in one vectorised call."""
    proba = load(str(model_dir)).predict_proba(images(batch))
    return [float(p) for p in proba[:, digit(name)]]


def _scores(settings, name: str, items: list[list[float]]) -> list[float]:
    return scores(settings.model_dir, name, items)


BACKEND = Backend(
    "real", _scores, warm=lambda settings: load(str(settings.model_dir)),
    describes="scikit-learn MLP on the 8x8 digits, its own compute time", startup_s=TRAIN_S,
)  # fmt: skip
