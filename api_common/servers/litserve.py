"""litserve: LitServe as the model tier (api_model/model_servers/litserve.py), with its own batching.

Its handler sees the body only, so the model's name travels in it (the ``json`` protocol); its health check
answers ``ok`` as text on the lab's path. ``workers`` worker processes (default: one per core).
"""

from __future__ import annotations

import sys

from api_common.servers import Launch, model_server


def _command(launch: Launch) -> list[str]:
    return [sys.executable, "-m", "api_model.model_servers.litserve"]


SERVER = model_server("litserve", _command, requires=("litserve",), protocol="json", health_json=False)
