"""A container's health check (lab/probe.py): the standard library alone, the same answer as ``lab health``, and far
cheaper in CPU than importing the lab."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from lab import probe

PROBE = Path(probe.__file__)
SHELL_PROBE = PROBE.with_suffix(".sh")  # the images' check: bash alone, no interpreter (issue 36)


class _Health(BaseHTTPRequestHandler):
    body = b'{"status": "OK"}'

    def do_GET(self):  # noqa: N802 (the standard library's name)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = HTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _run(state: Path, argv: list[str]) -> tuple[int, float]:
    """Exit status and the CPU seconds (user and system) of one check run as a process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    code = subprocess.run(argv, env=os.environ | {"LAB_STATE_DIR": str(state)}, capture_output=True).returncode
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return code, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def test_the_probe_says_healthy_unhealthy_and_not_yet(server, tmp_path):
    url = f"http://127.0.0.1:{server.server_port}/health"
    assert probe.healthy({"url": url, "lab_json": True})
    assert not probe.healthy({"url": url.replace(str(server.server_port), "1"), "lab_json": True})  # nothing there
    _Health.body = b'{"status": "starting"}'
    try:
        assert not probe.healthy({"url": url, "lab_json": True})  # the lab's health answers OK, or is not healthy
        assert probe.healthy({"url": url, "lab_json": False})  # a model server's own check: any 200
    finally:
        _Health.body = b'{"status": "OK"}'
    assert _run(tmp_path, [sys.executable, "-S", str(PROBE)])[0] == 1  # no health.json yet: not started


def test_the_probe_is_a_fraction_of_lab_healths_cpu(server, tmp_path):
    (tmp_path / probe.FILE).write_text(json.dumps({"url": f"http://127.0.0.1:{server.server_port}/health"}))
    code, cheap = _run(tmp_path, [sys.executable, "-S", str(PROBE)])
    assert code == 0
    # lab health on a service it does not know exits 2 once the lab is imported: the import is the cost compared.
    code, full = _run(tmp_path, [sys.executable, "-m", "cli", "health", "no-such-service"])
    assert code == 2
    assert cheap < full / 4, (cheap, full)  # 0.08 s against 0.57 s here: a factor of 7, asserted at 4


def test_lab_serve_writes_what_the_probe_asks_and_the_probe_sees_it_up(tmp_path):
    from api_common.ports import free_ports
    from lab import processes
    from tests.conftest import wait_for

    port = free_ports(1)[0]
    env = {"LAB_STATE_DIR": str(tmp_path), "REDIS_PORT": str(port)}
    rec = processes.spawn("redis", [sys.executable, "-m", "cli", "serve", "redis"], env, tmp_path / "r.log", "probe")
    try:
        wait_for(lambda: _run(tmp_path, [sys.executable, "-S", str(PROBE)])[0] == 0, timeout=30)
        assert json.loads((tmp_path / probe.FILE).read_text()) == {"redis_port": port}
    finally:
        processes.stop(rec, timeout=5)
        processes.reap(rec)
    assert _run(tmp_path, [sys.executable, "-S", str(PROBE)])[0] == 1  # stopped: not healthy


def _verdicts(state: Path, check: dict) -> tuple[int, int]:
    """The exit status of the Python reference and of the bash probe on the same health.json."""
    (state / probe.FILE).write_text(json.dumps(check))
    return _run(state, [sys.executable, "-S", str(PROBE)])[0], _run(state, ["bash", str(SHELL_PROBE)])[0]


def test_the_shell_probe_says_what_the_python_one_says(server, tmp_path):
    url = f"http://127.0.0.1:{server.server_port}/health"
    assert _run(tmp_path, ["bash", str(SHELL_PROBE)])[0] == 1  # no health.json yet: not started
    assert _verdicts(tmp_path, {"url": url, "lab_json": True}) == (0, 0)
    assert _verdicts(tmp_path, {"url": url.replace(str(server.server_port), "1"), "lab_json": True}) == (1, 1)
    _Health.body = b'{"status": "starting"}'
    try:
        assert _verdicts(tmp_path, {"url": url, "lab_json": True}) == (1, 1)
        assert _verdicts(tmp_path, {"url": url, "lab_json": False}) == (0, 0)
    finally:
        _Health.body = b'{"status": "OK"}'
    assert _verdicts(tmp_path, {"redis_port": server.server_port}) == (1, 1)  # an HTTP server does not PONG


def test_the_shell_probe_pings_redis_and_costs_a_fraction_of_the_python_one(tmp_path):
    import socket

    listener = socket.create_server(("127.0.0.1", 0))

    def pong():
        for _ in range(2):
            conn, _ = listener.accept()
            with conn:
                if conn.recv(64).startswith(b"PING"):
                    conn.sendall(b"+PONG\r\n")

    threading.Thread(target=pong, daemon=True).start()
    (tmp_path / probe.FILE).write_text(json.dumps({"redis_port": listener.getsockname()[1]}))
    code, python_cpu = _run(tmp_path, [sys.executable, "-S", str(PROBE)])
    code_sh, shell_cpu = _run(tmp_path, ["bash", str(SHELL_PROBE)])
    listener.close()
    assert (code, code_sh) == (0, 0)
    assert shell_cpu < python_cpu / 2, (shell_cpu, python_cpu)  # about 2 ms against 80 here; asserted at half
