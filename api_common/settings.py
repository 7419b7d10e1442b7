"""Settings shared by every HTTP service: where it listens and how its server runs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings

Server = Literal["gunicorn", "uvicorn"]


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class ServiceSettings(BaseSettings):
    """Base for one HTTP service; each service subclasses it with its own env prefix and defaults."""

    host: str = "127.0.0.1"
    port: int
    server: Server
    # None means the server's default: 2 x cores + 1 for gunicorn sync, one per core for uvicorn.
    workers: int | None = None
    worker_class: str = "sync"
    threads: int = 1
    worker_connections: int = 1000  # gevent and asgi workers: concurrent clients per worker
    log_level: str = "warning"
    max_body_bytes: int = 64 * 1024
    # The overload policy: predictions one worker process holds at once; past it a fast 503 with
    # Retry-After (api_common/overload.py). None: no bound, requests queue (a gunicorn sync worker holds
    # one at a time and queues the rest in its listen backlog, so a bound means nothing there).
    max_in_flight: int | None = None
    profiling: bool = False
    profile_dir: Path = Path(".lab/profiles")

    def worker_count(self) -> int:
        if self.workers:
            return self.workers
        if self.server == "gunicorn" and self.worker_class in ("sync", "gthread"):
            return 2 * cpu_count() + 1
        return cpu_count()

    def requests_per_worker(self) -> int:
        """How many requests one worker process can hold at once."""
        if self.worker_class in ("gevent", "asgi") or self.server == "uvicorn":
            return self.worker_connections
        return max(self.threads, 1)

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def to_env(self) -> dict[str, str]:
        """Every setting as the environment variables that rebuild it in a child process."""
        prefix = self.model_config.get("env_prefix", "")
        env = {}
        for name, value in self.model_dump(mode="json").items():
            if value is None:
                continue
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, (dict, list)):
                text = json.dumps(value)
            else:
                text = str(value)
            env[f"{prefix}{name}".upper()] = text
        return env
