"""``xgboost``: gradient-boosted trees (XGBoost) classifying the 8x8 digits that ship inside scikit-learn.

Trained once, deterministically (fixed seed, the whole data set), and cached under the lab's state folder
as XGBoost's own JSON model. Features become the 64 pixels of an image as for ``real`` (the scikit-learn
MLP); model ``name`` answers the probability of one digit class. A batch is one ``predict_proba`` call on
the stacked images, in ``model_threads`` threads.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from api_model.backends import Backend
from api_model.backends._cache import cached
from api_model.backends.real import digit, images

VERSION = "digits-xgboost-1"  # change it with the training recipe: the cache file is named after it


def _train():
    from sklearn.datasets import load_digits
    from xgboost import XGBClassifier

    digits = load_digits()
    model = XGBClassifier(n_estimators=60, max_depth=4, learning_rate=0.3, random_state=0, n_jobs=1)
    model.fit(digits.data, digits.target)
    return model


def _read(path: Path):
    from xgboost import XGBClassifier

    model = XGBClassifier()
    model.load_model(path)
    return model


@lru_cache(maxsize=8)
def load(model_dir: str, threads: int):
    model = cached(Path(model_dir) / f"{VERSION}.json", _train, lambda m, p: m.save_model(p), _read)
    model.set_params(n_jobs=threads)
    return model


def scores(model_dir: str | Path, name: str, batch: list[list[float]], threads: int = 1) -> list[float]:
    proba = load(str(model_dir), threads).predict_proba(images(batch))
    return [float(p) for p in proba[:, digit(name)]]


BACKEND = Backend(
    "xgboost", lambda s, name, items: scores(s.model_dir, name, items, s.model_threads),
    warm=lambda s: load(str(s.model_dir), s.model_threads),
    describes="XGBoost trees on the 8x8 digits, its own compute time",
)  # fmt: skip
