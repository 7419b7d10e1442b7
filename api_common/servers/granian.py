"""granian: a Rust HTTP server for ASGI and WSGI apps; WSGI requests run on its blocking threads."""

from __future__ import annotations

import sys

from api_common.servers import Launch, Server, worker_counts


def _holds(s) -> int | None:
    # Over ASGI an event loop admits any number; over WSGI a worker holds one request per blocking thread.
    return None if s.app_kind == "asgi" else max(s.threads, 1)


def _command(launch: Launch) -> list[str]:
    s = launch.settings
    cmd = [
        sys.executable, "-m", "granian", launch.target, "--factory",
        "--interface", s.app_kind,
        "--host", s.host,
        "--port", str(s.port),
        "--workers", str(SERVER.workers(s)),
        "--log-level", s.log_level,
        "--no-access-log",
        "--workers-kill-timeout", "5",
    ]  # fmt: skip
    if s.app_kind == "wsgi":
        cmd += ["--blocking-threads", str(max(s.threads, 1))]
    else:
        cmd += ["--loop", "uvloop"]
    return cmd


SERVER = Server(
    "granian", _command, serves=lambda s: ("asgi", "wsgi"), holds=_holds, requires=("granian",),
    knobs=lambda cores: [{"chain": "async", "workers": w} for w in worker_counts(cores)],
)  # fmt: skip
