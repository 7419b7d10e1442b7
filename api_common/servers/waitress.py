"""waitress: a pure-Python WSGI server, one process whose thread pool runs the app (``waitress-serve --threads``).

A neighbour lab serves its Flask classifier on it. Its one process reads and buffers every request on
its own I/O thread, then queues it for the pool: a request's wait in that queue is not the socket's, so
the delay policy sees only the time in a thread (and waitress's queue grows past capacity).
"""

from __future__ import annotations

import sys

from api_common.drain import DRAIN_BYTES
from api_common.servers import Launch, Server


def _command(launch: Launch) -> list[str]:
    s = launch.settings
    if s.workers not in (None, 1):
        raise ValueError(f"waitress runs one process (its threads serve the requests); workers={s.workers} asked")
    return [
        sys.executable, "-m", "waitress", "--call",
        f"--host={s.host}",
        f"--port={s.port}",
        f"--threads={max(s.threads, 1)}",
        # Its default, 100 connections, would refuse the load tests' users outright; past capacity the lab's
        # policy refuses, not the server.
        f"--connection-limit={s.worker_connections}",
        # It buffers a whole body before the app runs, and answers one over this bound itself, in plain text:
        # up to the drain's bound (api_common/drain.py) the app answers, with the lab's JSON 413.
        f"--max-request-body-size={DRAIN_BYTES}",
        "--asyncore-use-poll",  # select() cannot watch a descriptor over 1024
        *([f"--channel-timeout={max(1, round(s.keepalive_s))}"] if s.keepalive_s is not None else []),
        launch.target,
    ]  # fmt: skip


SERVER = Server(
    "waitress", _command, serves=lambda s: ("wsgi",), default_workers=lambda s: 1,
    holds=lambda s: max(s.threads, 1), requires=("waitress",),
)  # fmt: skip
