"""Clients that are slow, as real ones are: a bounded population that holds connections open.

``slowloris``: K connections that each send a request line and then their headers one byte at a time, never
finishing them, for a bounded time; every socket is closed when it ends (or when the ``with`` block does). A
server that gives each connection a worker until its headers are complete (gunicorn's sync workers) is held by K of
them; one that reads headers in an event loop (uvicorn, nginx) is not. No library does this as a bounded, in-process
population (slowhttptest is a separate C++ program with no Debian package here), hence these few lines.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Population:
    """What the slow clients did: connections opened, bytes sent, and connections the server closed."""

    opened: int = 0
    sent_bytes: int = 0
    closed_by_server: int = 0


@contextmanager
def slowloris(
    host: str, port: int, connections: int, seconds: float, byte_every_s: float = 0.5, path: str = "/",
    reconnect: bool = False,
) -> Iterator[Population]:  # fmt: skip
    """Hold ``connections`` half-sent requests open on ``host:port`` for at most ``seconds`` (the population stops
    by itself then, or at the end of the ``with`` block, whichever comes first). ``reconnect``: a connection the
    server closes (its header timeout) is opened again, as an attacker does."""
    if not 0 < connections <= 2000 or not 0 < seconds <= 300:
        raise ValueError("a slow population is bounded: 1-2000 connections, at most 300 s")
    stats = Population()
    socks: list[socket.socket] = []
    head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n".encode()

    def connect() -> socket.socket:
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(head)
        socks.append(s)
        stats.opened += 1
        return s

    alive = [connect() for _ in range(connections)]
    stop = threading.Event()
    deadline = time.monotonic() + seconds

    def trickle() -> None:  # one byte of a header line per connection every byte_every_s: the line never ends
        while alive and not stop.wait(byte_every_s) and time.monotonic() < deadline:
            for i, s in enumerate(alive):
                if s is None:
                    continue
                try:
                    s.sendall(b"X")
                    stats.sent_bytes += 1
                except OSError:
                    stats.closed_by_server += 1
                    alive[i] = None
                    if reconnect:
                        try:
                            alive[i] = connect()
                        except OSError:
                            pass
            if not any(alive):
                return

    worker = threading.Thread(target=trickle, name="slowloris", daemon=True)
    worker.start()
    try:
        yield stats
    finally:
        stop.set()
        worker.join(timeout=byte_every_s + 5)
        for s in socks:
            s.close()
