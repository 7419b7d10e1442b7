"""The HTTP servers the lab can run a service on: one module each in this package, found by name.

A server module defines ``SERVER``, a :class:`Server`: how it is started (its command line), how many
worker processes it runs by default, how many requests one worker holds at once (Little's law reads
it from here and nowhere else) and which kinds of application (WSGI, ASGI) it serves. Adding a server
is adding one module here, or in a folder named by ``LAB_SERVER_PATH`` (for a server kept outside
the lab's tree); the settings, the launcher, the variants and the report all ask this registry.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from api_common.contract import HEALTH_PATH, predict_path
from api_common.registry import Registry, UnknownPart

APP_KINDS = ("wsgi", "asgi")
# A model server's start, at most: Ray (its GCS, raylet, controller, proxy, replicas), TorchServe (a JVM, then its
# Python workers), Triton. 8-20 s each on an idle machine here; 4x that for a busy one.
MODEL_SERVER_STARTUP_S = 90.0


class ServiceSettings(Protocol):
    """What a server reads of a service's settings: ``api_common.settings.ServiceSettings``, which names its server
    and asks this registry for it, so this module sits below the settings and does not import them."""

    host: str
    port: int
    chain: str
    tier: str
    app_kind: str
    workers: int | None
    worker_class: str
    threads: int
    worker_connections: int
    log_level: str


def cpu_count() -> int:
    """The cores this service may use: ``LAB_CPUS`` when set (a container held to a CPU quota sees every core of its
    host in its affinity; a Kubernetes pod sets it from its own limit), else the cores it may be scheduled on."""
    if os.environ.get("LAB_CPUS", "").strip():
        return max(1, int(os.environ["LAB_CPUS"]))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@contextlib.contextmanager
def on_cores(cores: int) -> Iterator[None]:
    """Within it, every server's defaults are what they would be on a machine of ``cores`` cores (``LAB_CPUS``):
    what a chain's settings make of a bigger machine, for the cost model's transfer. Not thread-safe: for reports."""
    before = os.environ.get("LAB_CPUS")
    os.environ["LAB_CPUS"] = str(cores)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("LAB_CPUS", None)
        else:
            os.environ["LAB_CPUS"] = before


@dataclass(frozen=True)
class Launch:
    """What a server needs to start one service: its settings (``settings.app_kind`` says WSGI or ASGI) and
    ``target``, the ``module:function`` that builds its app (the form every server takes a factory in); empty
    for a server that runs a program of its own."""

    settings: ServiceSettings
    target: str = ""  # e.g. "api_scoring.flask_app:create_app"

    @property
    def app_module(self) -> str:
        return self.target.partition(":")[0]

    @property
    def factory(self) -> str:
        return self.target.partition(":")[2]


@dataclass(frozen=True)
class Server:
    name: str
    # The command line that starts the service in the foreground.
    command: Callable[[Launch], list[str]]
    # Which app kinds it serves, given the settings (gunicorn: by its worker class).
    serves: Callable[[ServiceSettings], tuple[str, ...]]
    # Worker processes when the settings do not say.
    default_workers: Callable[[ServiceSettings], int] = lambda s: cpu_count()
    # Requests one worker process holds at once; None when it admits any number (an event loop).
    holds: Callable[[ServiceSettings], int | None] = lambda s: None
    requires: tuple[str, ...] = field(default=())  # importable modules it needs
    # False: it runs a program of its own (a pool of job-queue workers, a model server) in place of the
    # service's app, so it serves no app kind and the service's framework is not used.
    runs_app: bool = True
    # A model server's own contract (api_common/protocols.py): how the scoring handler asks it (its protocol,
    # on its predict path), and where it says it is up (its health path; ``health_json``: answered with the
    # lab's {"status": "OK"}, else any 200 will do).
    protocol: str = "lab"
    path: Callable[[ServiceSettings], str] = lambda s: predict_path(s.chain)
    health_path: str = HEALTH_PATH
    health_json: bool = True
    # The advisor's space (``lab advise``): the model tier's settings worth trying with this server on a machine of
    # ``cores`` cores, each a dict of overrides ("chain" says which twin's settings: "sync" WSGI, "async" ASGI);
    # none: the advisor does not try it. Threads of the model's runtime are the advisor's own axis.
    knobs: Callable[[int], list[dict]] = lambda cores: []
    # The make target that installs what it requires (the README's install section): every server the
    # services run comes with ``make venv``; the model servers with ``make servers``.
    install: str = "make venv"
    # What it needs that is not installed, said as a user would install it (default: its ``requires`` modules
    # that do not import here; a server run by another interpreter says so itself).
    missing: Callable[[], list[str]] | None = None
    # How long it may take to answer its health check, at least (a model server starts a runtime of its own:
    # Ray, a JVM, Triton); the lab's startup timeout when longer.
    startup_s: float = 0.0
    # Whether its own API answers a body that is not JSON with a 4xx. Triton's answers 500 (its HTTP frontend,
    # "failed to parse the request JSON buffer"), and so does any error its Python model raises: the lab's
    # scoring handler sends it only bodies it built, and reports its 5xx as a 502 in the lab's shape.
    client_errors: bool = True

    def absent(self) -> list[str]:
        if self.missing is not None:
            return self.missing()
        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    def workers(self, s: ServiceSettings) -> int:
        return s.workers or self.default_workers(s)

    def concurrency(self, s: ServiceSettings) -> int | None:
        """Requests the whole service holds at once, when its server bounds it (Little's law)."""
        per_worker = self.holds(s)
        return None if per_worker is None else self.workers(s) * per_worker


def model_server(name: str, command: Callable[[Launch], list[str]], **own) -> Server:
    """A model server as the model tier: a program of its own in place of the lab's app (so it serves no app kind),
    given the start-up a runtime of its own needs, installed by ``make servers``; ``own``: what sets it apart
    (its protocol, paths, requirements)."""
    own.setdefault("knobs", model_server_knobs)
    return Server(name, command, serves=lambda s: (), runs_app=False, startup_s=MODEL_SERVER_STARTUP_S,
                  install="make servers", **own)  # fmt: skip


def worker_counts(cores: int) -> list[int]:
    """Worker processes worth trying: 1, then doubling, up to the cores (and the cores themselves)."""
    counts, w = [], 1
    while w < cores:
        counts.append(w)
        w *= 2
    return [*counts, cores]


def model_server_knobs(cores: int) -> list[dict]:
    """A model server with its own batching, at a small and a large cap (waiting 5 ms), one worker per core."""
    return [{"chain": "async", "max_batch_size": cap, "max_wait_ms": 5.0} for cap in (8, 32)]


REGISTRY: Registry[Server] = Registry(__name__, __path__, "SERVER", "LAB_SERVER_PATH", "server")
UnknownServer = UnknownPart
names, get = REGISTRY.names, REGISTRY.get
