"""The stack's ports: every service on a free port of its own (tests, compare's variants side by side)."""

from __future__ import annotations

from api_common.contract import SERVICES
from api_common.ports import free_ports


def service_ports(redis_port: int) -> dict[str, dict]:
    """Overrides that put every service on a free port of its own beside the shared Redis on ``redis_port``."""
    base: dict[str, dict] = {"redis": {"port": redis_port}}
    # Distinct, and not Redis's: the first variant's ports are picked before Redis listens on its own.
    scoring = [n for n in SERVICES if n.startswith("scoring-")]
    free = [p for p in free_ports(len(SERVICES) + len(scoring) + 1) if p != redis_port]
    for name, port in zip(SERVICES, free, strict=False):
        base[name] = {"port": port}
    for name, port in zip(scoring, free[len(SERVICES) :], strict=False):
        base[name]["app_port"] = port  # where the handler listens when a proxy takes its port (lab/proxy.py)
    return base
