"""The container tier: the lab's images built here and run on a real Docker engine (docker/engine.sh).

Skipped, with the reason printed, where no engine answers or the original lab's ports are taken; else every
test of the tier runs against containers that publish only on 127.0.0.1, and the tier leaves nothing behind
(no container, no network, nothing listening): checked when it ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "ml-serving-lab"
PORTS = {"model-sync": 5000, "scoring-sync": 5001, "model-async": 8000, "scoring-async": 8001, "redis": 6379}
QUEUE_PORT = 8002  # the job-queue chain's scoring handler under compose
BUILD_TIMEOUT_S = 20 * 60  # a cold build: the base from Debian's packages, then every image (measured: about 3 min)
# A service is healthy once its HEALTHCHECK passes: start period 5 s, then every 5 s. 90 s leaves a busy
# 2-core machine room for a cold start of five containers at once.
HEALTHY_WITHIN_S = 90.0


def docker(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=check)


def make(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=check)  # fmt: skip


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def ours() -> list[str]:
    """The lab's containers, under docker-run (lab-*) or compose (project ml-serving-lab)."""
    names = docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
    return [n for n in names if n.startswith(("lab-", f"{IMAGE}_"))]


def networks() -> list[str]:
    return [n for n in docker("network", "ls", "--format", "{{.Name}}").stdout.split() if n.startswith(IMAGE)]


def health(container: str) -> str:
    out = docker("inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", container, check=False)
    return out.stdout.strip() or "absent"


def wait_healthy(containers: list[str], timeout: float = HEALTHY_WITHIN_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {c: health(c) for c in containers}
        if all(s == "healthy" for s in states.values()):
            return
        time.sleep(1)
    raise AssertionError(f"not healthy within {timeout:.0f} s: {states}")


def clean_up() -> None:
    make("docker-stop", check=False)
    make("compose-down", check=False, timeout=180)


@pytest.fixture(scope="session")
def engine() -> None:
    try:
        out = docker("info", "--format", "{{.ServerVersion}}", timeout=20, check=False)
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"container tier: no Docker engine ({exc}); make docker-engine installs and starts one as root")
    if out.returncode != 0:
        said = out.stderr.strip()[:200]
        pytest.skip(f"container tier: no Docker engine answers ({said}); make docker-engine starts one")
    taken = [f"{name} ({port})" for name, port in PORTS.items() if listening(port)]
    if taken and not ours():
        pytest.skip(f"container tier: the original lab's ports are taken by another program: {', '.join(taken)}")


@pytest.fixture(scope="session")
def images(engine) -> Iterator[dict[str, float]]:
    """``make docker-build`` as a user runs it; the tier's leftovers are checked once every test is done."""
    clean_up()
    t0 = time.monotonic()
    out = make("docker-build", timeout=BUILD_TIMEOUT_S, check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    yield {"build_s": time.monotonic() - t0}
    clean_up()
    assert ours() == [] and networks() == []
    assert [p for p in [*PORTS.values(), QUEUE_PORT] if listening(p)] == []


class Terminal:
    """One ``make docker-run-NAME`` in a terminal of its own: a process group we started and can end."""

    def __init__(self, name: str, log: Path):
        self.log = log.open("w")
        self.proc = subprocess.Popen(["make", "-s", f"docker-run-{name}"], cwd=ROOT, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip

    def close(self, timeout: float = 30) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own session: the make and its docker client
            return self.proc.wait(timeout=10)
        finally:
            self.log.close()


@pytest.fixture(scope="session")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as c:
        yield c
