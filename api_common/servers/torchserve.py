"""torchserve: TorchServe as the model tier (api_model/model_servers/torchserve.py), its batching on.

Its inference API has its own paths: ``POST /predictions/scorer`` with ``{"features": [...], "model": NAME}``
(the ``json`` protocol). Its health check is a ``GET`` of the same path, answered by a worker (its ``/ping``
answers before the workers are up). Needs Java 17. TorchServe was archived in 2025.
"""

from __future__ import annotations

import sys

from api_common.servers import Launch, model_server


def _command(launch: Launch) -> list[str]:
    return [sys.executable, "-m", "api_model.model_servers.torchserve"]


SERVER = model_server(
    "torchserve", _command, requires=("ts", "model_archiver"), protocol="json",
    path=lambda s: "/predictions/scorer", health_path="/predictions/scorer",
)  # fmt: skip
