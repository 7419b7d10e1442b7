"""queue_workers: the job-queue architecture's model tier, a pool of processes reading a Redis stream.

Not an HTTP server for the app: its workers take jobs from Redis (api_model/queue_worker.py); the main
process answers the health check and ``/metrics`` on the service's port, so the lab starts, watches and
stops it like any other service.
"""

from __future__ import annotations

import sys

from api_common.servers import Launch, Server


def _command(launch: Launch) -> list[str]:
    cls = type(launch.settings)
    return [sys.executable, "-m", "api_model.queue_worker", f"{cls.__module__}:{cls.__name__}"]


# A worker holds up to a batch of jobs at once; it runs its own program, no HTTP app of either kind.
SERVER = Server("queue_workers", _command, serves=lambda s: (), holds=lambda s: s.max_batch_size, runs_app=False)
