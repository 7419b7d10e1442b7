"""Port checks: a taken port is a clear error naming it; free ports for tests and for a model server's side
ports (TorchServe's and Triton's gRPC and metrics listeners)."""

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
    return free_ports(1, host)[0]


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct free ports: each socket stays bound until all are picked, as one call after another
    may be given the port the last one just closed (CI: Redis and a model API on the same port)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for sock in socks:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()
