"""rayserve: Ray Serve as the model tier (api_model/model_servers/rayserve.py), with ``@serve.batch``.

It takes the lab's own contract, so the scoring handler and the README's commands are unchanged.
``workers`` replicas (default: one per core); ``max_batch_size`` and ``max_wait_ms`` are Serve's batch cap
and wait (5 ms when the settings leave batching off: the server batches always).
"""

from __future__ import annotations

import sys

from api_common.servers import Launch, model_server


def _command(launch: Launch) -> list[str]:
    return [sys.executable, "-m", "api_model.model_servers.rayserve"]


SERVER = model_server("rayserve", _command, requires=("ray",))
