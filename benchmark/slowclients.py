"""Clients that are slow, as real ones are: a bounded population that holds connections open.

``slowloris``: K connections that each send a request line and then their headers one byte at a time, never
finishing them, for a bounded time; every socket is closed when it ends (or when the ``with`` block does). A
server that gives each connection a worker until its headers are complete (gunicorn's sync workers) is held by K of
them; one that reads headers in an event loop (uvicorn, nginx) is not. No library does this as a bounded, in-process
population (slowhttptest is a separate C++ program with no Debian package here), hence these few lines.

``population``: the other behaviours of real clients, K connections each in a thread of its own, repeating until
the bound: ``upload`` sends a whole, valid request whose body arrives in pieces over ``upload_s``; ``reader`` sends
a whole request at once and reads its answer a byte at a time; ``idle`` sends one request with keep-alive, reads
the answer and then holds the connection open, idle, until the server closes it (it does not open another: a client
reopens when it has a request, and idle ones have none).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


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


KINDS = ("upload", "reader", "idle")


@dataclass
class Behaviour:
    """What a population of ``kind`` did: connections opened, answers read whole, connections the server closed."""

    kind: str
    opened: int = 0
    answered: int = 0
    closed_by_server: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, what: str) -> None:
        with self.lock:
            setattr(self, what, getattr(self, what) + 1)


def _request(host: str, port: int, path: str, body: bytes) -> tuple[bytes, bytes]:
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n").encode()  # fmt: skip
    return head, body


def _answer(s: socket.socket, stop: threading.Event, byte_every_s: float = 0.0) -> bool:
    """Read one answer (its headers and ``Content-Length`` bytes of body); False if the connection closed first
    or ``stop`` was set. With ``byte_every_s``, a byte at a time (a slow reader)."""
    data = b""
    while True:
        if byte_every_s and stop.wait(byte_every_s):
            return False
        try:
            chunk = s.recv(1 if byte_every_s else 65536)
        except TimeoutError:
            if stop.is_set():
                return False
            continue
        if not chunk:
            return False
        data += chunk
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
            if len(rest) >= length:
                return True


def _client(kind: str, host: str, port: int, path: str, body: bytes, stop: threading.Event, out: Behaviour,
            upload_s: float, byte_every_s: float) -> None:  # fmt: skip
    head, body = _request(host, port, path, body)
    while not stop.is_set():
        try:
            s = socket.create_connection((host, port), timeout=1)
        except OSError:
            stop.wait(0.2)
            continue
        out.count("opened")
        try:
            while not stop.is_set():
                if kind == "upload":
                    s.sendall(head)
                    for i in range(len(body)):  # the body a byte at a time, spread over upload_s
                        if stop.wait(upload_s / len(body)):
                            return
                        s.sendall(body[i : i + 1])
                else:
                    s.sendall(head + body)
                if not _answer(s, stop, byte_every_s if kind == "reader" else 0.0):
                    break
                out.count("answered")
                if kind == "idle":  # hold the connection, idle, until the server closes it or the bound; then done
                    while not stop.is_set():  # (a client reopens when it has a request: idle ones have none)
                        try:
                            if s.recv(1) == b"":
                                out.count("closed_by_server")
                                return
                        except TimeoutError:
                            continue
                    break
            if not stop.is_set():
                out.count("closed_by_server")
        except OSError:
            out.count("closed_by_server")
        finally:
            s.close()


@contextmanager
def population(
    kind: str, host: str, port: int, path: str, body: bytes, connections: int, seconds: float, upload_s: float = 10.0,
    byte_every_s: float = 0.5,
) -> Iterator[Behaviour]:  # fmt: skip
    """``connections`` clients of ``kind`` (``KINDS``) against ``host:port``, for at most ``seconds`` (they stop by
    themselves then, or at the end of the ``with`` block, whichever comes first; every socket is closed)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of slow client {kind!r}; known: {', '.join(KINDS)}")
    if not 0 < connections <= 500 or not 0 < seconds <= 300:
        raise ValueError("a slow population is bounded: 1-500 connections, at most 300 s")
    out, stop = Behaviour(kind), threading.Event()
    threads = [
        threading.Thread(
            target=_client,
            name=f"slow-{kind}-{i}",
            daemon=True,
            args=(kind, host, port, path, body, stop, out, upload_s, byte_every_s),
        )  # fmt: skip
        for i in range(connections)
    ]
    for t in threads:
        t.start()
    timer = threading.Timer(seconds, stop.set)
    timer.daemon = True
    timer.start()
    try:
        yield out
    finally:
        stop.set()
        timer.cancel()
        for t in threads:
            t.join(timeout=2)
