"""Bring a stack up (healthy or nothing), take it down (nothing left behind), report its status."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from api_common.metrics import prepare_dir
from api_common.ports import ensure_free
from feature_store.loader import load
from lab import health, launcher, processes
from lab.processes import Record, StateFile
from lab.settings import LabSettings
from lab.stack import Stack


class StartupError(RuntimeError):
    pass


@dataclass
class ServiceStatus:
    name: str
    pid: int | None
    running: bool
    healthy: bool
    address: str


def state_file(lab: LabSettings) -> StateFile:
    return StateFile(lab.state_dir / "stack.json")


def is_healthy(stack: Stack, name: str) -> bool:
    """Its own check: a scoring handler behind a proxy is asked directly, the proxy through itself."""
    if name == "redis":
        return health.redis_ok(stack.redis.effective_url)
    if (front := stack.proxy(name)) is not None:
        return health.http_ok(front.health_url)
    return health.http_ok(stack.service(name).own_health_url, lab_json=stack.service(name).health_json)


def address(stack: Stack, name: str) -> str:
    if name == "redis":
        return stack.redis.effective_url
    front = stack.proxy(name)
    return front.url if front is not None else stack.service(name).own_url


def _port(stack: Stack, name: str) -> tuple[str, int]:
    if name == "redis":
        return stack.redis.host, stack.redis.port
    if (front := stack.proxy(name)) is not None:
        return front.host, front.port
    s = stack.service(name).settings
    if stack.service(name).role == "scoring":
        return ("127.0.0.1" if s.proxy != "none" else s.host), s.bind_port()
    return s.host, s.port


def cleanup_stale(lab: LabSettings, log=print) -> int:
    """Stop processes recorded by an earlier run that crashed or was killed; returns how many."""
    state = state_file(lab)
    stopped = 0
    for rec in reversed(state.read()):
        if processes.stop(rec, lab.stop_timeout_s):
            log(f"stopped stale {rec.name} (pid {rec.pid}) left by an earlier run")
            stopped += 1
    state.clear()
    return stopped


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while starting, so a killed `lab up` still cleans up. Only the main thread
    receives signals (and may set their handlers): a start from another thread (a test's pool) leaves them."""

    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _wait_healthy(stack: Stack, name: str, rec: Record | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_healthy(stack, name):
            return
        if rec is not None and not processes.leader_alive(rec):
            processes.reap(rec)
            raise StartupError(f"{name} exited during start-up; last lines of {rec.log}:\n{_tail(rec.log)}")
        time.sleep(0.1)
    where = f"; see {rec.log}" if rec else ""
    raise StartupError(f"{name} did not become healthy at {address(stack, name)} within {timeout:g} s{where}")


def _tail(path: str, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def up(stack: Stack, lab: LabSettings, log=print) -> list[Record]:
    """Start every service and return once each answers its health check and Redis holds the entities.

    On any failure, or Ctrl-C, what was started is stopped again.
    """
    state = state_file(lab)
    existing = state.read()
    if existing and all(processes.alive(r) for r in existing) and all(is_healthy(stack, n) for n in stack.names()):
        log("stack already running")
        return existing
    cleanup_stale(lab, log)
    records = start(stack, lab, stack.names(), log)
    if stack.redis.external:  # the user's own Redis: add the entities it lacks, overwrite nothing
        written = load_features(stack, only_missing=True)
        log(f"{'redis':<14} external {stack.redis.effective_url}: {written} missing entities added")
    return records


def load_features(stack: Stack, only_missing: bool = False) -> int:
    """Write the stack's entities into its feature store; returns how many keys were written."""
    client = redis.Redis.from_url(stack.redis.effective_url, socket_timeout=5)
    try:
        r = stack.redis
        return load(client, r.entities, r.key_prefix, r.features_per_entity, only_missing=only_missing)
    finally:
        client.close()


def _startup_s(stack: Stack, name: str) -> float:
    return 0.0 if name == "redis" or stack.proxy(name) is not None else stack.service(name).settings.startup_s()


def run_folder(lab: LabSettings) -> Path:
    """Where the services' working files go (a proxy's configuration, Redis's data)."""
    return lab.state_dir / "run"


def metrics_folder(lab: LabSettings, name: str, instance: str = "") -> Path:
    """Where service ``name``'s processes keep their Prometheus multiprocess files."""
    return lab.state_dir / "metrics" / instance / name


def start(stack: Stack, lab: LabSettings, names: list[str], log=print, instance: str = "") -> list[Record]:
    """Start services ``names`` beside whatever the state file already records (appended to it).

    A Redis started here is loaded with the stack's entities before the next service starts. Stacks that
    run side by side (``lab compare``'s variants) name their ``instance``: each gets its own logs and
    metrics folder (a multiprocess metrics folder adds up every process that writes to it).
    """
    state = state_file(lab)
    for name in names:
        ensure_free(*_port(stack, name), owner=name)
    if stack.redis.external and not health.redis_ok(stack.redis.effective_url):
        raise StartupError(f"external Redis at {stack.redis.effective_url} does not answer PING")
    owner = uuid.uuid4().hex
    workdir = run_folder(lab)
    workdir.mkdir(parents=True, exist_ok=True)
    before = state.read()
    records: list[Record] = []
    with sigterm_as_interrupt():
        try:
            for name in names:
                cmd = launcher.command(stack, name, workdir)
                log_path = lab.state_dir / "logs" / instance / f"{name}.log"
                metrics_dir = metrics_folder(lab, name, instance)
                prepare_dir(metrics_dir)
                env = launcher.environment(stack, name, metrics_dir=metrics_dir)
                rec = processes.spawn(name, cmd, env, log_path, owner, into=records)
                state.write(before + records)  # recorded before waiting, so a crash here still leaves a trace
                _wait_healthy(stack, name, rec, max(lab.startup_timeout_s, _startup_s(stack, name)))
                extra = ""
                if name == "redis":  # a Redis the lab starts is empty: it is usable once it holds the entities
                    extra = f"  {load_features(stack)} entities loaded"
                log(f"{name:<14} up   pid {rec.pid:<7} {address(stack, name)}{extra}")
        except BaseException:
            stop(lab, records)
            raise
    return records


def stop(lab: LabSettings, records: list[Record]) -> None:
    """Stop ``records`` (newest first) and drop them from the state file."""
    for rec in reversed(records):
        processes.stop(rec, lab.stop_timeout_s)
        processes.reap(rec)
    state = state_file(lab)
    gone = {(r.pid, r.owner) for r in records}
    state.write([r for r in state.read() if (r.pid, r.owner) not in gone])


def down(lab: LabSettings, log=print) -> int:
    """Stop every process the lab recorded, newest first; returns how many were running."""
    state = state_file(lab)
    records = state.read()
    stopped = 0
    for rec in reversed(records):
        if processes.stop(rec, lab.stop_timeout_s):
            stopped += 1
            log(f"{rec.name:<14} stopped (pid {rec.pid})")
        processes.reap(rec)
    state.clear()
    if not records:
        log("no stack recorded: nothing to stop")
    return stopped


def status(stack: Stack, lab: LabSettings) -> list[ServiceStatus]:
    recorded = {r.name: r for r in state_file(lab).read()}
    rows = []
    for name in stack.names():
        rec = recorded.get(name)
        rows.append(
            ServiceStatus(
                name=name,
                pid=rec.pid if rec else None,
                running=bool(rec and processes.alive(rec)),
                healthy=is_healthy(stack, name),
                address=address(stack, name),
            )
        )
    return rows
