"""triton: Triton Inference Server through PyTriton as the model tier (api_model/model_servers/triton.py).

KServe v2 is not the lab's contract (named, typed tensors), so the scoring handler speaks it (the ``kserve``
protocol). PyTriton 0.7 needs numpy < 2, so it runs from a virtualenv of its own, ``.venv-triton``
(``make servers`` builds it; ``LAB_TRITON_PYTHON`` names another interpreter).
"""

from __future__ import annotations

import os
from pathlib import Path

from api_common.servers import Launch, model_server

ROOT = Path(__file__).resolve().parents[2]


def python() -> str:
    return os.environ.get("LAB_TRITON_PYTHON") or str(ROOT / ".venv-triton" / "bin" / "python")


def _command(launch: Launch) -> list[str]:
    return [python(), "-m", "api_model.model_servers.triton"]


def _missing() -> list[str]:
    return [] if os.path.exists(python()) else [f"the Triton virtualenv ({python()}: make servers)"]


SERVER = model_server(
    "triton", _command, protocol="kserve", path=lambda s: "/v2/models/scorer/infer",
    health_path="/v2/models/scorer/ready", health_json=False, client_errors=False, missing=_missing,
)  # fmt: skip
