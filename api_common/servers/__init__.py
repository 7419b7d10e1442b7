"""The HTTP servers the lab can run a service on: one module each in this package, found by name.

A server module defines ``SERVER``, a :class:`Server`: how it is started (its command line), how many
worker processes it runs by default, how many requests one worker holds at once (Little's law reads
it from here and nowhere else) and which kinds of application (WSGI, ASGI) it serves. Adding a server
is adding one module here, or in a folder named by ``LAB_SERVER_PATH`` (for a server kept outside
the lab's tree); the settings, the launcher, the variants and the report all ask this registry.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from api_common.settings import ServiceSettings

APP_KINDS = ("wsgi", "asgi")


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass(frozen=True)
class Launch:
    """What a server needs to start one service: its settings (``settings.app_kind`` says WSGI or ASGI)
    and the module whose ``create_app()`` builds the app."""

    settings: ServiceSettings
    app_module: str  # e.g. "api_scoring.flask_app"


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

    def workers(self, s: ServiceSettings) -> int:
        return s.workers or self.default_workers(s)

    def concurrency(self, s: ServiceSettings) -> int | None:
        """Requests the whole service holds at once, when its server bounds it (Little's law)."""
        per_worker = self.holds(s)
        return None if per_worker is None else self.workers(s) * per_worker


class UnknownServer(ValueError):
    pass


def _search_path() -> list[str]:
    extra = [p for p in os.environ.get("LAB_SERVER_PATH", "").split(os.pathsep) if p]
    return list(__path__) + extra


def _load(name: str) -> Server | None:
    for folder in _search_path()[len(__path__) :]:
        path = os.path.join(folder, f"{name}.py")
        if os.path.exists(path):
            spec = importlib.util.spec_from_file_location(f"lab_server_{name}", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            return module.SERVER
    try:
        return importlib.import_module(f"{__name__}.{name}").SERVER
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{name}":
            return None
        raise


def names() -> list[str]:
    """Every registered server's name."""
    return sorted({m.name for m in pkgutil.iter_modules(_search_path()) if not m.name.startswith("_")})


_loaded: dict[tuple[str, str], Server] = {}


def get(name: str) -> Server:
    key = (name, os.environ.get("LAB_SERVER_PATH", ""))
    if key not in _loaded:
        server = _load(name) if name in names() else None
        if server is None:
            raise UnknownServer(f"unknown server {name!r}; known: {', '.join(names())}")
        _loaded[key] = server
    return _loaded[key]
