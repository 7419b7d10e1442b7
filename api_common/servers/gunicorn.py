"""gunicorn: a pre-fork server whose worker class decides what it serves and how many requests a worker holds."""

from __future__ import annotations

import sys
from importlib.metadata import version

from api_common.servers import Launch, Server, cpu_count, worker_counts

ASGI_WORKERS = ("asgi", "uvicorn_worker.UvicornWorker")  # gunicorn's own asyncio worker, uvicorn's
GREENLET_WORKERS = ("gevent", "meinheld.gmeinheld.MeinheldWorker")
THREADED_WORKERS = ("sync", "gthread")  # a sync worker is one thread


def _serves(s) -> tuple[str, ...]:
    return ("asgi",) if s.worker_class in ASGI_WORKERS else ("wsgi",)


def _default_workers(s) -> int:
    # gunicorn's advice for workers that block on each request; one per core for those that do not.
    return 2 * cpu_count() + 1 if s.worker_class in THREADED_WORKERS else cpu_count()


def _holds(s) -> int | None:
    # gunicorn's sync worker holds one request (its --threads are ignored); gthread holds --threads.
    # Meinheld's worker serves one request at a time per process too (its greenlets only wait on I/O
    # for reading and writing the socket, the app blocks). gevent and the ASGI workers admit any number.
    if s.worker_class == "gthread":
        return max(s.threads, 1)
    if s.worker_class in ("sync", "meinheld.gmeinheld.MeinheldWorker"):
        return 1
    return None


def _command(launch: Launch) -> list[str]:
    s = launch.settings
    cmd = [
        sys.executable, "-m", "gunicorn", f"{launch.target}()",
        "--bind", f"{s.host}:{s.port}",
        "--workers", str(SERVER.workers(s)),
        "--worker-class", s.worker_class,
        "--threads", str(s.threads),
        "--log-level", s.log_level,
        "--graceful-timeout", "5",
        "--timeout", "30",
        "--config", "python:api_common.servers._gunicorn_hooks",
    ]  # fmt: skip
    if s.keepalive_s is not None:
        cmd += ["--keep-alive", f"{s.keepalive_s:g}"]
    if s.worker_class in ("gevent", "asgi"):
        cmd += ["--worker-connections", str(s.worker_connections)]
    if int(version("gunicorn").split(".")[0]) >= 24:
        # gunicorn's control socket defaults to one shared path: two services would collide on it.
        cmd.append("--no-control-socket")
    return cmd


def _knobs(cores: int) -> list[dict]:
    """Flask on gunicorn's threaded workers (a CPU-bound model gains nothing from more requests a worker holds
    than its threads, and the sync worker is gthread with one thread)."""
    return [{"chain": "sync", "worker_class": "gthread", "workers": w, "threads": t}
            for w in worker_counts(cores) for t in (4, 16)]  # fmt: skip


SERVER = Server("gunicorn", _command, _serves, _default_workers, _holds, knobs=_knobs)
