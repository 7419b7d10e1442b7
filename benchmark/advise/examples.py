"""Models to try ``lab advise`` on, exported as a user exports theirs: the lab's scikit-learn MLP of the 8x8 digits as
an ONNX file (skl2onnx, the dev extra) and a joblib file, the lab's torch MLP as a TorchScript file (its scaling and
softmax inside, so that it answers probabilities; torch comes with ``make servers``), and one example request.

``python -m benchmark.advise.examples FOLDER`` (``make example-model``) writes them, each to a new file: a file
already there is kept, never written over. Nothing is fetched: the digits ship with scikit-learn.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import joblib
import numpy as np

from api_model.backends import real
from api_model.backends import torch as torch_backend

EXAMPLE_DIGIT = 3  # the example request: the fourth image of the digits


def example() -> list[float]:
    from sklearn.datasets import load_digits

    return load_digits().data[EXAMPLE_DIGIT].tolist()


def _onnx(path: Path) -> None:
    from skl2onnx import to_onnx

    onx = to_onnx(real._train(), np.zeros((1, real.PIXELS), dtype=np.float32), target_opset=17)
    path.write_bytes(onx.SerializeToString())


def _torchscript(path: Path) -> None:
    import torch

    net = torch_backend._net()
    net.load_state_dict(torch_backend._train())

    class Probabilities(torch.nn.Module):  # the torch backend's own answer: softmax of the net of pixels / 16
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.net(x / real.MAX_PIXEL), dim=1)

    torch.jit.script(Probabilities().eval()).save(str(path))


WRITERS = {
    "mlp.onnx": ("skl2onnx", _onnx),
    "mlp.joblib": ("sklearn", lambda path: joblib.dump(real._train(), path)),
    "mlp.pt": ("torch", _torchscript),
    "example.json": ("sklearn", lambda path: path.write_text(json.dumps(example()) + "\n")),
}


def export(folder: Path, say=print) -> dict[str, Path]:
    """Write every example whose exporter is installed into ``folder``; the files there, by name."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, (needs, write) in WRITERS.items():
        path = folder / name
        if path.exists():
            say(f"{path}: kept (already there)")
        elif importlib.util.find_spec(needs) is None:
            say(f"{path}: not written: it needs {needs} ({'make servers' if needs == 'torch' else 'make venv'})")
            continue
        else:
            write(path)
            say(f"{path}: written")
        written[name] = path
    return written


if __name__ == "__main__":
    export(Path(sys.argv[1] if len(sys.argv) > 1 else "models"))
