"""litserve: LitServe as the model tier (api_model/model_servers/litserve.py), with its own batching.

Its handler sees the body only, so the model's name travels in it (the ``json`` protocol); its health check
answers ``ok`` as text on the lab's path. ``workers`` worker processes (default: one per core).
"""

from __future__ import annotations

import sys

from api_common.servers import MODEL_SERVER_STARTUP_S, Launch, Server


def _command(launch: Launch) -> list[str]:
    return [sys.executable, "-m", "api_model.model_servers.litserve"]


SERVER = Server(
    "litserve",
    _command,
    serves=lambda s: (),
    requires=("litserve",),
    runs_app=False,
    startup_s=MODEL_SERVER_STARTUP_S,
    protocol="json",
    health_json=False,
)
