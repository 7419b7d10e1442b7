"""``python``: a user's function of a batch, named ``module:callable`` (the module importable by the worker: on
``PYTHONPATH``); it takes the stacked items (a float64 array, one row per item, in the example's shape) and answers
one row of outputs per item (or one value each)."""

from __future__ import annotations

import importlib

import numpy as np

from api_model.backends._user import Loaded, NotAModel, backend, shape_setting


def _open(settings) -> Loaded:
    module_name, _, name = settings.model_path.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise NotAModel(f"{settings.model_path}: cannot import it ({exc})") from None
    if not callable(function):
        raise NotAModel(f"{settings.model_path}: {name} is not callable")
    return Loaded(function, shape_setting(settings, "a function"), np.dtype(np.float64))


BACKEND = backend("python", _open, "the user's Python function of a batch")
