"""bentoml: BentoML as the model tier (api_model/model_servers/bentoml_service.py), adaptive batching on.

A batchable API takes a list (the ``bentoml`` protocol); its health check is BentoML's ``/healthz``.
``workers`` worker processes (default: one per core), ``max_batch_size`` BentoML's batch cap.
"""

from __future__ import annotations

import os
import sys

from api_common.servers import Launch, model_server


def _command(launch: Launch) -> list[str]:
    s = launch.settings
    bentoml = os.path.join(os.path.dirname(sys.executable), "bentoml")
    return [bentoml, "serve", "api_model.model_servers.bentoml_service:Scorer", "--host", s.host, "--port",
            str(s.port)]  # fmt: skip


SERVER = model_server(
    "bentoml", _command, requires=("bentoml",), protocol="bentoml", health_path="/healthz", health_json=False
)
