"""The one place that knows how each service is started: its command line and its environment.

Each server's own command line lives in its module of ``api_common/servers``; this joins it to a service.

``lab up``, the tests and the Docker images all go through :func:`command` and :func:`environment`
(the images via ``python -m cli serve NAME``, which execs the same command).
"""

from __future__ import annotations

import os
from pathlib import Path

from api_common.metrics import prepare_dir
from api_common.servers import Launch
from api_model.model_servers import BATCH_DIR_ENV, SETTINGS_ENV, settings_class_path
from feature_store import server as redis_server
from lab import proxy
from lab.stack import Stack


def command(stack: Stack, name: str, workdir: Path) -> list[str]:
    """The command line that starts service ``name`` of ``stack``."""
    if name == "redis":
        return redis_server.command(stack.redis, workdir)
    if (front := stack.proxy(name)) is not None:
        return proxy.command(front, workdir)
    svc = stack.service(name)
    s = svc.settings
    server = s.runner()
    if not server.runs_app:
        return server.command(Launch(s))  # its own program: no app of the service's framework
    if s.app_kind not in server.serves(s):
        raise ValueError(f"{name}: server {s.server} (worker class {s.worker_class}) does not serve {s.app_kind} apps")
    if svc.role == "scoring" and s.proxy != "none":  # behind its proxy: on loopback, at its own port
        s = s.model_copy(update={"host": "127.0.0.1", "port": s.bind_port()})
    return server.command(Launch(s, svc.app_module))


def environment(
    stack: Stack, name: str, base: dict[str, str] | None = None, metrics_dir: Path | None = None
) -> dict[str, str]:
    """The environment of service ``name``: every one of its settings, so the app rebuilds them.

    ``metrics_dir`` is where its worker processes keep their Prometheus metrics (multiprocess mode).
    """
    env = dict(os.environ if base is None else base)
    env["PYTHONUNBUFFERED"] = "1"
    if name != "redis" and stack.proxy(name) is None:
        settings = stack.service(name).settings
        env.update(settings.to_env())
        if not settings.runner().runs_app:  # its own program rebuilds its settings from their class
            env[SETTINGS_ENV] = settings_class_path(settings)
        if metrics_dir is not None:
            env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
            env[BATCH_DIR_ENV] = str(Path(metrics_dir).resolve())  # a model server's batch sizes (model_servers)
    return env


def serve(stack: Stack, name: str, workdir: Path) -> None:
    """Replace this process with service ``name`` (the container entry point)."""
    cmd = command(stack, name, workdir)
    env = environment(stack, name)
    if env.get("PROMETHEUS_MULTIPROC_DIR"):
        prepare_dir(env["PROMETHEUS_MULTIPROC_DIR"])
    os.execvpe(cmd[0], cmd, env)
