"""The one place that knows how each service is started: its command line and its environment.

``lab up``, the tests and the Docker images all go through :func:`command` and :func:`environment`
(the images via ``python -m lab serve NAME``, which execs the same command).
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import version
from pathlib import Path

from api_common.metrics import prepare_dir
from feature_store import server as redis_server
from lab.stack import Service, Stack


def _gunicorn_major() -> int:
    return int(version("gunicorn").split(".")[0])


def gunicorn_command(svc: Service) -> list[str]:
    s = svc.settings
    cmd = [
        sys.executable, "-m", "gunicorn", f"{svc.app_module}:create_app()",
        "--bind", f"{s.host}:{s.port}",
        "--workers", str(s.worker_count()),
        "--worker-class", s.worker_class,
        "--threads", str(s.threads),
        "--log-level", s.log_level,
        "--graceful-timeout", "5",
        "--timeout", "30",
        "--config", "python:lab.gunicorn_hooks",
    ]  # fmt: skip
    if s.worker_class in ("gevent", "asgi"):
        cmd += ["--worker-connections", str(s.worker_connections)]
    if _gunicorn_major() >= 24:
        # gunicorn's control socket defaults to one shared path: two services would collide on it.
        cmd.append("--no-control-socket")
    return cmd


def uvicorn_command(svc: Service) -> list[str]:
    s = svc.settings
    return [
        sys.executable, "-m", "uvicorn", f"{svc.app_module}:create_app", "--factory",
        "--host", s.host,
        "--port", str(s.port),
        "--workers", str(s.worker_count()),
        "--loop", "uvloop",
        "--http", "httptools",
        "--no-access-log",
        "--log-level", s.log_level,
        "--timeout-graceful-shutdown", "5",
    ]  # fmt: skip


def command(stack: Stack, name: str, workdir: Path) -> list[str]:
    """The command line that starts service ``name`` of ``stack``."""
    if name == "redis":
        return redis_server.command(stack.redis, workdir)
    svc = stack.service(name)
    if svc.settings.server == "gunicorn":
        return gunicorn_command(svc)
    return uvicorn_command(svc)


def environment(
    stack: Stack, name: str, base: dict[str, str] | None = None, metrics_dir: Path | None = None
) -> dict[str, str]:
    """The environment of service ``name``: every one of its settings, so the app rebuilds them.

    ``metrics_dir`` is where its worker processes keep their Prometheus metrics (multiprocess mode).
    """
    env = dict(os.environ if base is None else base)
    env["PYTHONUNBUFFERED"] = "1"
    if name != "redis":
        env.update(stack.service(name).settings.to_env())
        if metrics_dir is not None:
            env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    return env


def serve(stack: Stack, name: str, workdir: Path) -> None:
    """Replace this process with service ``name`` (the container entry point)."""
    cmd = command(stack, name, workdir)
    env = environment(stack, name)
    if env.get("PROMETHEUS_MULTIPROC_DIR"):
        prepare_dir(env["PROMETHEUS_MULTIPROC_DIR"])
    os.execvpe(cmd[0], cmd, env)
