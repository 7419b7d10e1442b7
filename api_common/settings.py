"""Settings shared by every HTTP service: where it listens and how its server runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings

from api_common import frameworks, servers
from api_common.servers import cpu_count

__all__ = ["AsyncService", "ServiceSettings", "SyncService", "cpu_count"]


class ServiceSettings(BaseSettings):
    """Base for one HTTP service; each service subclasses it with its own env prefix and defaults."""

    # The kind of application this service is ("wsgi" for the Flask twin, "asgi" for the FastAPI one).
    app_kind: ClassVar[str]
    chain: ClassVar[str]  # "sync" or "async"
    tier: ClassVar[str]  # "model" or "scoring": which app of its framework it runs
    host: str = "127.0.0.1"
    port: int
    server: str  # a module of api_common/servers
    # None means the server's default (api_common/servers): 2 x cores + 1 for gunicorn sync, one per core else.
    workers: int | None = None
    worker_class: str = "sync"
    threads: int = 1
    worker_connections: int = 1000  # gevent and asgi workers: concurrent clients per worker
    # How long the server keeps an idle keep-alive connection (gunicorn's --keep-alive, uvicorn's
    # --timeout-keep-alive, waitress's channel_timeout); None: the server's own default (2 s, 5 s, 120 s).
    # gunicorn's sync workers keep none. Measured with idle connections held open (doc/FINDINGS.md, "Slow clients"):
    # none of the servers is captured by them, so the defaults stand.
    keepalive_s: float | None = None
    log_level: str = "warning"
    max_body_bytes: int = 64 * 1024
    # The overload policy (api_common/overload.py): "off" admits everything; "fixed" holds at most
    # max_in_flight predictions per worker process; "delay" refuses, with a fast 503 and Retry-After, a
    # standing queue (most requests of the last admission_interval_ms delayed over admission_target_ms) and
    # lets a burst through. The scoring handlers default to "delay".
    admission: Literal["off", "fixed", "delay"] = "off"
    max_in_flight: int | None = None
    # The target is a small share of the lab's 250 ms bound; the interval is longer than a burst of the
    # original lab's 150 users takes to drain here (about 150 ms).
    admission_target_ms: float = 20.0
    admission_interval_ms: float = 500.0
    profiling: bool = False
    profile_dir: Path = Path(".lab/profiles")
    # The lab's own layers, each a switch that takes it out of the request's path (``lab ablation`` walks them off
    # one at a time, issue 35): Prometheus metrics of every request (``/metrics`` then answers no series), the
    # ``?profile=`` hook (``profiling`` needs it; without it the query is ignored) and the drain of a body left
    # unread (api_common/drain.py). The overload policy's own switch is ``admission = "off"``.
    metrics: bool = True
    profiling_hook: bool = True
    drain: bool = True

    # The framework the app is written with (a module of api_common/frameworks): each chain's class sets its
    # twin's, "bare" is the same steps with no framework (the floor). "framework", as earlier runs said, is
    # the chain's own.
    app: str
    # Parsing and rendering JSON bodies: the standard library, or orjson.
    json_library: Literal["stdlib", "orjson"] = "stdlib"

    @field_validator("server")
    @classmethod
    def _registered(cls, name: str) -> str:
        servers.get(name)  # raises with the known names
        return name

    @field_validator("app", mode="before")
    @classmethod
    def _framework(cls, name: str) -> str:
        name = cls.model_fields["app"].default if name == "framework" else name
        frameworks.get(name)  # raises with the known names
        return name

    @model_validator(mode="after")
    def _profiled_through_its_hook(self) -> ServiceSettings:
        if self.profiling and not self.profiling_hook:
            raise ValueError("profiling needs the ?profile= hook: profiling_hook must stay on")
        return self

    @model_validator(mode="after")
    def _builds_an_app(self) -> ServiceSettings:
        if self.runner().runs_app:
            self.framework().factory(self.tier, self.app_kind)  # raises if it builds no app of this kind
        return self

    def framework(self) -> frameworks.Framework:
        return frameworks.get(self.app)

    def runner(self) -> servers.Server:
        return servers.get(self.server)

    def startup_s(self) -> float:
        """How long it may take to answer its health check once started, at least (its server's own start)."""
        return self.runner().startup_s

    def worker_count(self) -> int:
        return self.runner().workers(self)

    def requests_per_worker(self) -> int:
        """How many requests one worker process holds at once (an event loop: its connection cap)."""
        return self.runner().holds(self) or self.worker_connections

    def concurrency(self) -> int | None:
        """Requests the whole service holds at once, when its server bounds it (for Little's law)."""
        return self.runner().concurrency(self)

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


class SyncService(ServiceSettings):
    """A service of the sync chain: a WSGI app, Flask on gunicorn unless its settings say otherwise."""

    chain = "sync"
    app_kind = "wsgi"
    app: str = "flask"
    server: str = "gunicorn"


class AsyncService(ServiceSettings):
    """A service of the async chain: an ASGI app, FastAPI on uvicorn unless its settings say otherwise."""

    chain = "async"
    app_kind = "asgi"
    app: str = "fastapi"
    server: str = "uvicorn"
