"""gunicorn server hooks, loaded by every gunicorn service with ``--config python:api_common.servers._gunicorn_hooks``.

A worker that dies (crash, timeout, ``--max-requests``) leaves its Prometheus multiprocess files
behind; its live gauges (requests in flight) would be summed forever. Its files are retired here.
"""

from __future__ import annotations

import os


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
