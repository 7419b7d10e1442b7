"""``torch``: a small PyTorch MLP (64-128-10) classifying the 8x8 digits that ship inside scikit-learn.

Trained once, deterministically (seeded, full-batch, deterministic algorithms, one thread), and cached
under the lab's state folder as a state dict (``torch.load(weights_only=True)`` reads it back: torch 2.6
made that the default). Inference in float32 under ``torch.inference_mode``, in ``model_threads`` threads
(TorchServe's pull request 1138: on a CPU, one thread per worker is the fast setting). A batch is one
forward pass on the stacked images; an item's score alone and in a batch agree within ``TOLERANCE``
(float32 sums in another order).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from api_model.backends import TORCH_STARTUP_S, Backend
from api_model.backends._cache import cached
from api_model.backends.real import MAX_PIXEL, PIXELS, digit, images

VERSION = "digits-torch-mlp-1"
TOLERANCE = 1e-5  # absolute: a float32 score alone against the same item in a batch
_threads_lock = threading.Lock()


def _net():
    import torch

    return torch.nn.Sequential(torch.nn.Linear(PIXELS, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))


def _train():
    import torch
    from sklearn.datasets import load_digits

    digits = load_digits()
    torch.manual_seed(0)
    with _threads_lock:  # the training's sums in one fixed order
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            net = _net()
            x = torch.tensor(digits.data / MAX_PIXEL, dtype=torch.float32)
            y = torch.tensor(digits.target)
            opt = torch.optim.Adam(net.parameters(), lr=0.01)
            for _ in range(150):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(x), y).backward()
                opt.step()
        finally:
            torch.set_num_threads(before)
    return net.state_dict()


def _save(state, path: Path) -> None:
    import torch

    torch.save(state, path)


def _read(path: Path):
    import torch

    net = _net()
    net.load_state_dict(torch.load(path, weights_only=True))
    return net.eval()


@lru_cache(maxsize=4)
def load(model_dir: str, threads: int):
    import torch

    torch.set_num_threads(threads)  # per process: the worker's whole share
    return cached(Path(model_dir) / f"{VERSION}.pt", _train, _save, _read)


def probabilities(model_dir: str | Path, batch: list[list[float]], threads: int = 1) -> np.ndarray:
    import torch

    net = load(str(model_dir), threads)
    with torch.inference_mode():
        x = torch.from_numpy((images(batch) / MAX_PIXEL).astype(np.float32))
        return torch.softmax(net(x), dim=1).numpy()


def scores(model_dir: str | Path, name: str, batch: list[list[float]], threads: int = 1) -> list[float]:
    return [float(p) for p in probabilities(model_dir, batch, threads)[:, digit(name)]]


BACKEND = Backend(
    "torch", lambda s, name, items: scores(s.model_dir, name, items, s.model_threads),
    warm=lambda s: load(str(s.model_dir), s.model_threads),
    describes="PyTorch MLP on the 8x8 digits, its own compute time", startup_s=TORCH_STARTUP_S,
)  # fmt: skip
