"""uvicorn: an ASGI server, one event loop per worker process (uvloop, httptools)."""

from __future__ import annotations

import sys

from api_common.servers import Launch, Server


def _command(launch: Launch) -> list[str]:
    s = launch.settings
    return [
        sys.executable, "-m", "uvicorn", launch.target, "--factory",
        "--host", s.host,
        "--port", str(s.port),
        "--workers", str(SERVER.workers(s)),
        "--loop", "uvloop",
        "--http", "httptools",
        "--no-access-log",
        "--log-level", s.log_level,
        "--timeout-graceful-shutdown", "5",
    ]  # fmt: skip


SERVER = Server("uvicorn", _command, serves=lambda s: ("asgi",))
