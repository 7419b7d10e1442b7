"""Fixtures in three tiers: in-process test clients, real Redis, and real stacks on free ports."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from api_common.ports import free_port, free_ports
from feature_store import server
from feature_store.settings import RedisSettings
from lab import control, health, variants
from lab.settings import LabSettings
from lab.stack import Stack, build_stack

SERVICES = ("model-sync", "scoring-sync", "model-async", "scoring-async")
# What a busy, shared 2-core machine can add to one step of a test (a scheduler stall, a GC pause, a
# pooled connection found dead): every time bound is the setting it tests plus this. The slowest
# step seen on the development machine with one core kept busy took about a quarter of it.
BUSY_MARGIN_S = 1.0


def wait_for(check, timeout: float = 15.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout} s")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server (the same binary the lab starts) on a free port, for the whole session."""
    settings = RedisSettings(port=free_port())
    proc = subprocess.Popen(
        server.command(settings, tmp_path_factory.mktemp("redis")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: health.redis_ok(settings.effective_url))
        yield settings.effective_url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def key_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


_GIVEN: set[int] = set()  # ports handed to a stack in this session: stacks started at once never share one
_GIVEN_LOCK = threading.Lock()


def _fresh_ports(n: int) -> list[int]:
    """``n`` free ports that no other stack of this session was given (tests start several from threads)."""
    with _GIVEN_LOCK:
        while True:
            ports = free_ports(n)
            if not _GIVEN.intersection(ports):
                _GIVEN.update(ports)
                return ports


def free_stack_ports(entities: int) -> dict[str, dict]:
    """Settings overrides that put Redis and every service on its own free port."""
    scoring = [n for n in SERVICES if n.startswith("scoring-")]
    redis_port, *ports = _fresh_ports(1 + len(SERVICES) + len(scoring))
    found = {"redis": {"port": redis_port, "entities": entities}} | {
        name: {"port": port} for name, port in zip(SERVICES, ports, strict=False)
    }
    for name, port in zip(scoring, ports[len(SERVICES) :], strict=True):
        found[name]["app_port"] = port  # where the handler listens behind a proxy (lab/proxy.py)
    return found


def make_stack(entities: int = 200, **overrides: dict) -> Stack:
    """A stack on free ports, so it can run beside another (or beside the user's own)."""
    o = free_stack_ports(entities)
    for name, values in overrides.items():
        o.setdefault(name.replace("_", "-"), {}).update(values)
    return build_stack(o)


def lab_settings(path: Path) -> LabSettings:
    return LabSettings(state_dir=path / "state", results_dir=path / "results", startup_timeout_s=30)


def start(stack: Stack, lab: LabSettings) -> None:
    control.up(stack, lab, log=lambda *_: None)  # the Redis it starts holds the entities when it returns


@pytest.fixture(scope="session")
def running_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, LabSettings]]:
    """The whole stack with its default workers, real processes on free ports, for the session."""
    stack = make_stack()
    lab = lab_settings(tmp_path_factory.mktemp("lab"))
    start(stack, lab)
    try:
        yield stack, lab
    finally:
        control.down(lab, log=lambda *_: None)


@dataclass(frozen=True)
class Skip:
    """A case that was not run, and why."""

    reason: str


def missing_variant(name: str | None) -> Skip | None:
    """Skip a case whose variant needs what is not installed, naming the make target that installs it."""
    v = variants.get(name) if name else None
    return Skip(f"variant {name} needs {v.missing_text()}") if v is not None and v.missing() else None


def run_cases(
    cases: Iterable[Hashable],
    run: Callable[[Any], Any],
    at_once: int,
    skip: Callable[[Any], Skip | None] = lambda c: None,
) -> dict:
    """Each case's outcome, ``at_once`` at a time (stacks start mostly waiting): what ``run(case)`` returned, the
    exception it raised, or the :class:`Skip` that ``skip(case)`` gave it. Each case's own test reads its outcome
    with :func:`outcome`, so one case's failure is reported by its test alone."""
    out: dict = {}
    todo = []
    for case in cases:
        reason = skip(case)
        if reason is None:
            todo.append(case)
        else:
            out[case] = reason

    def guarded(case):
        try:
            return run(case)
        except BaseException as exc:  # reported by the case's own test
            return exc

    with ThreadPoolExecutor(at_once) as pool:
        out |= dict(zip(todo, pool.map(guarded, todo), strict=True))
    return out


def outcome(result: Any) -> Any:
    """A case's own test: skipped with its reason, its failure raised, else what its run returned."""
    if isinstance(result, Skip):
        pytest.skip(result.reason)
    if isinstance(result, BaseException):
        raise result
    return result
