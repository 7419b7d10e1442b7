"""``torchscript``: a user's TorchScript file (``torch.jit.save``), run on the CPU in ``model_threads`` threads under
``torch.inference_mode``. TorchScript keeps no input signature: the shape of one item comes from the user's
example."""

from __future__ import annotations

import numpy as np

from api_model.backends import TORCH_STARTUP_S
from api_model.backends._user import Loaded, NotAModel, backend, shape_setting


def _open(settings) -> Loaded:
    import torch

    torch.set_num_threads(settings.model_threads)  # per process: the worker's whole share
    try:
        module = torch.jit.load(settings.model_path, map_location="cpu").eval()
    except (RuntimeError, ValueError) as exc:
        raise NotAModel(f"{settings.model_path}: not a TorchScript file ({str(exc).splitlines()[0][:200]})") from None
    shape = shape_setting(settings, "a TorchScript file")

    def run(batch: np.ndarray):
        with torch.inference_mode():
            out = module(torch.from_numpy(batch))
        return (out[0] if isinstance(out, (tuple, list)) else out).float().numpy()

    return Loaded(run, shape, np.dtype(np.float32))


BACKEND = backend("torchscript", _open, "the user's TorchScript model (torch, CPU)", startup_s=TORCH_STARTUP_S)
