"""The slow-client population (benchmark/slowclients.py) on a local listener, and the slowloris run's summary."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from benchmark import slowloris as run
from benchmark.slowclients import KINDS, population, slowloris


@pytest.fixture
def listener():
    """A TCP listener that accepts and keeps every connection, closing the first ``close`` ones it reads from."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    state = {"conns": [], "stop": False, "close": 0, "bytes": 0}

    def serve():
        while not state["stop"]:
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.settimeout(2)
            state["conns"].append(conn)
            if state["close"] > 0:
                state["close"] -= 1
                conn.recv(1024)
                conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield server.getsockname()[1], state
    state["stop"] = True
    t.join(2)
    for c in state["conns"]:
        c.close()
    server.close()


def test_the_population_holds_its_connections_and_stops_by_itself(listener):
    port, state = listener
    t0 = time.monotonic()
    with slowloris("127.0.0.1", port, 5, seconds=0.6, byte_every_s=0.1) as pop:
        time.sleep(1.0)  # past its own bound: it has stopped sending
    assert pop.opened == 5 and pop.closed_by_server == 0
    assert 5 <= pop.sent_bytes <= 5 * 7  # one byte per connection per tick, for at most 0.6 s
    assert time.monotonic() - t0 < 5
    assert all(c.recv(64).startswith(b"POST / HTTP/1.1") for c in state["conns"][:5])  # a request never finished


def test_a_closed_connection_is_opened_again_when_asked(listener):
    port, state = listener
    state["close"] = 2
    with slowloris("127.0.0.1", port, 3, seconds=1.5, byte_every_s=0.1, reconnect=True) as pop:
        time.sleep(1.5)
    assert pop.closed_by_server >= 2 and pop.opened >= 3 + 2


def test_a_population_is_bounded():
    with pytest.raises(ValueError), slowloris("127.0.0.1", 1, 0, 1):
        pass
    with pytest.raises(ValueError), slowloris("127.0.0.1", 1, 10, 3600):
        pass


def test_the_summary_pairs_each_attack_with_its_own_rounds_calm():
    points = [{"round": r, "chain": "sync", "deployment": d, "slow": n, "goodput_qps": g}
              for r, d, n, g in [(1, "direct", 0, 30.0), (1, "direct", 300, 0.0), (2, "direct", 0, 20.0),
                                 (2, "direct", 300, 2.0), (1, "nginx", 0, 30.0), (1, "nginx", 300, 27.0)]]  # fmt: skip
    s = run.summarise(points)
    assert s["sync-direct"]["goodput"] == [25.0, 20.0, 30.0]
    assert s["sync-direct"]["share"] == [pytest.approx(0.05), 0.0, pytest.approx(0.1)]  # 0/30 and 2/20
    assert s["sync-nginx"]["share"] == [0.9, 0.9, 0.9] and "async-direct" not in s


@pytest.fixture
def http_server():
    """A threaded HTTP/1.1 server that answers every POST with its body's length, keeping connections alive."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Echo(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802 - the standard library's name
            n = len(self.rfile.read(int(self.headers["Content-Length"])))
            answer = f'{{"read": {n}}}'.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("kind", KINDS)
def test_each_behaviour_sends_whole_valid_requests_and_stops_by_itself(http_server, kind):
    t0 = time.monotonic()
    with population(kind, "127.0.0.1", http_server, "/x", b"[1.0, 2.0]", 3, seconds=1.5, upload_s=0.3,
                    byte_every_s=0.01) as pop:  # fmt: skip
        time.sleep(2.0)  # past its own bound
    assert time.monotonic() - t0 < 2.0 + 2 + 1  # its threads were joined (2 s each at most) once it stopped
    assert pop.opened >= 3 and pop.answered >= 3, pop  # each client had its answer read whole at least once
    if kind == "idle":  # an idle client holds its one connection: the server never closed it
        assert pop.opened == 3 and pop.answered == 3 and pop.closed_by_server == 0
    if kind == "upload":  # a body spread over 0.3 s: a few answers each within the 1.5 s
        assert 3 <= pop.answered <= 3 * 1.5 / 0.3 + 3


def test_every_behaviour_is_bounded_and_known():
    with pytest.raises(ValueError, match="bounded"):
        with population("idle", "127.0.0.1", 1, "/", b"[]", 501, 1):
            pass
    with pytest.raises(ValueError, match="unknown kind"):
        with population("fast", "127.0.0.1", 1, "/", b"[]", 1, 1):
            pass
