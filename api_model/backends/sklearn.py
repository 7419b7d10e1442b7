"""``sklearn``: a user's scikit-learn estimator saved with joblib or pickle; ``predict_proba`` where it has one (a
classifier's probabilities), else ``predict``. The BLAS and OpenMP pools of the worker process are held to
``model_threads`` (threadpoolctl). The input is ``n_features_in_`` values per item, or the user's example's shape.

A pickle runs code when it is loaded: open only files you trust, as with ``joblib.load`` anywhere."""

from __future__ import annotations

import pickle

import numpy as np

from api_model.backends._user import Loaded, NotAModel, backend, shape_setting


def _open(settings) -> Loaded:
    import joblib
    from threadpoolctl import threadpool_limits

    threadpool_limits(settings.model_threads)  # the whole worker process: its BLAS and OpenMP pools
    try:
        estimator = joblib.load(settings.model_path)
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise NotAModel(f"{settings.model_path}: not a joblib or pickle file ({type(exc).__name__})") from None
    call = getattr(estimator, "predict_proba", None) or getattr(estimator, "predict", None)
    if call is None:
        raise NotAModel(f"{settings.model_path}: a {type(estimator).__name__}, with neither predict_proba nor predict")
    features = getattr(estimator, "n_features_in_", None)
    shape = (int(features),) if features else shape_setting(settings, "the estimator")
    return Loaded(call, shape, np.dtype(np.float64))


BACKEND = backend("sklearn", _open, "the user's scikit-learn estimator (joblib)")
