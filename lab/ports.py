"""Port checks: a taken port is a clear error naming it, and tests get free ones."""

from __future__ import annotations

import socket


class PortInUse(RuntimeError):
    pass


def ensure_free(host: str, port: int, owner: str) -> None:
    """Raise ``PortInUse`` naming ``port`` and ``owner`` if something already listens there."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise PortInUse(
                f"port {port} on {host} is already in use: {owner} cannot start there "
                f"(stop what holds it, or set another port for {owner})"
            ) from None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
