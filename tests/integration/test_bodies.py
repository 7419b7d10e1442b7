"""A body over the cap gets its 413 JSON on every server the lab runs, never a reset (api_common/drain.py).

The client is a plain socket that sends the whole request, waits a little, then reads: what a client on
a busy machine does, and what turns a server closing on unread bytes into a lost answer (the kernel's
reset arrives before the client reads, and the answer already in its buffer is dropped). A 405 gets its Allow.
"""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from api_common.contract import predict_path
from lab import control
from tests.conftest import lab_settings, make_stack

pytestmark = pytest.mark.integration

MEINHELD = "meinheld.gmeinheld.MeinheldWorker"
# Every server and app the lab runs, on the model API (the smallest service with a capped body).
SERVERS = {
    "gunicorn-sync": ("model-sync", {}),
    "gunicorn-gthread": ("model-sync", {"worker_class": "gthread", "threads": 8, "workers": 2}),
    "gunicorn-gevent": ("model-sync", {"worker_class": "gevent", "workers": 2}),
    "gunicorn-meinheld": ("model-sync", {"worker_class": MEINHELD, "workers": 2}),
    "granian-wsgi": ("model-sync", {"server": "granian", "workers": 2, "threads": 8}),
    "bare-wsgi": ("model-sync", {"app": "bare"}),
    "waitress": ("model-sync", {"server": "waitress", "threads": 8}),
    "uvicorn": ("model-async", {}),
    "gunicorn-asgi": ("model-async", {"server": "gunicorn", "worker_class": "asgi", "workers": 2}),
    "granian-asgi": ("model-async", {"server": "granian"}),
    "bare-asgi": ("model-async", {"app": "bare"}),
    "quart": ("model-async", {"app": "quart"}),
    "starlette": ("model-async", {"app": "starlette"}),
}
SIZES = {"64KiB+1": 64 * 1024 + 1, "400KB": 400_000, "10MB": 10_000_000}
TIMES = 20
PAUSE_S = 0.05  # between sending and reading: long enough for a reset to overtake the answer
TIMEOUT_S = 10.0  # one request, 10 MB on loopback included, with a busy machine's margin


def _request(path: str, body: bytes) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _response(sock: socket.socket) -> tuple[int, dict, dict]:
    """One response, framed by its Content-Length: status, JSON body, headers."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a status; got {data[:80]!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers["content-length"])
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside the body")
        rest += chunk
    return int(lines[0].split()[1]), json.loads(rest[:length]), headers


def _send_oversize(port: int, path: str, body: bytes, kept_alive: bool) -> tuple[int, dict] | str:
    """The answer to ``body``, sent on a new connection or after a good request on the same one (unless
    the server closed that: gunicorn's sync worker keeps no connection alive)."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
        if kept_alive:
            sock.sendall(_request(path, b"[1.0, 2.0, 3.0]"))
            status, _, headers = _response(sock)
            assert status == 200
            if headers.get("connection", "").lower() == "close":
                sock.close()
                sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
        with sock:
            sock.sendall(_request(path, body))
            time.sleep(PAUSE_S)
            return _response(sock)[:2]
    except OSError as exc:  # a reset, a broken pipe, a timeout: the answer was lost
        return f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="module", params=list(SERVERS))
def service(request, tmp_path_factory):
    name, overrides = SERVERS[request.param]
    stack = make_stack(**{name: overrides})
    lab = lab_settings(tmp_path_factory.mktemp("bodies"))
    records = control.start(stack, lab, [name], log=lambda *_: None)
    try:
        yield stack.model(name.split("-")[1])
    finally:
        control.stop(lab, records)


@pytest.mark.parametrize("kept_alive", [False, True], ids=["new", "kept-alive"])
@pytest.mark.parametrize("size", list(SIZES), ids=list(SIZES))
def test_a_body_over_the_cap_gets_its_413_every_time(service, size, kept_alive):
    cap = service.settings.max_body_bytes
    body = b"[" + b"1," * (SIZES[size] // 2) + b"1]"
    assert len(body) > cap
    path = predict_path(service.chain)
    answers = [_send_oversize(service.settings.port, path, body, kept_alive) for _ in range(TIMES)]
    wrong = [a for a in answers if not (isinstance(a, tuple) and a[0] == 413 and a[1]["error"] == "payload_too_large")]
    assert not wrong, f"{len(wrong)} of {TIMES} without their 413: {sorted(set(map(str, wrong)))[:3]}"


def test_a_method_no_route_serves_gets_405_with_allow(service):
    reply = httpx.request("TRACE", f"{service.url}{predict_path(service.chain)}", timeout=TIMEOUT_S)
    assert (reply.status_code, reply.json()["error"]) == (405, "method_not_allowed")
    assert "POST" in {m.strip() for m in reply.headers["allow"].split(",")}
