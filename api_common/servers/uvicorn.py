"""uvicorn: an ASGI server, one event loop per worker process (uvloop, httptools)."""

from __future__ import annotations

import sys

from api_common.servers import Launch, Server, worker_counts


def _command(launch: Launch) -> list[str]:
    s = launch.settings
    keepalive = ["--timeout-keep-alive", f"{s.keepalive_s:g}"] if s.keepalive_s is not None else []
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
        *keepalive,
    ]  # fmt: skip


def _knobs(cores: int) -> list[dict]:
    """FastAPI on uvicorn: its workers, unbatched, and with the lab's dynamic batching (caps 8 and 32, waits of 2
    and 10 ms) on one worker per core."""
    plain = [{"chain": "async", "workers": w} for w in worker_counts(cores)]
    batching = [{"chain": "async", "workers": cores, "max_batch_size": cap, "max_wait_ms": wait}
                for cap in (8, 32) for wait in (2.0, 10.0)]  # fmt: skip
    return plain + batching


SERVER = Server("uvicorn", _command, serves=lambda s: ("asgi",), knobs=_knobs)
