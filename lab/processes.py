"""Processes the lab owns: each service in its own process group, recorded in a state file.

A process is only ever signalled if it is provably ours: the group leader we spawned (same PID
and same start time as recorded), or a member of its group that carries the lab's ownership tag
(``LAB_OWNER`` in its environment). A reused PID never gets a signal from us. Both checks are
needed: redis-server rewrites its process title over its environment block, so the tag alone
would not find it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

OWNER_VAR = "LAB_OWNER"


@dataclass
class Record:
    name: str
    pid: int
    pgid: int
    owner: str
    log: str
    cmd: list[str]
    start_ticks: int | None = None


def spawn(
    name: str, cmd: list[str], env: dict[str, str], log_path: Path, owner: str, into: list[Record] | None = None,
    cpus: set[int] | None = None,
) -> Record:  # fmt: skip
    """Start ``cmd`` in a new session (its own process group), output appended to ``log_path``;
    with ``cpus``, the child runs on those cores only, and so does everything it starts.

    The record is appended to ``into`` before returning; if Ctrl-C lands between starting the child and
    recording it, the child is killed here, so no process ever runs unrecorded.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**env, OWNER_VAR: owner}
    proc = None
    try:
        with open(log_path, "ab") as log:
            pinned = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
            proc = subprocess.Popen(
                cmd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=pinned,
            )  # fmt: skip
        rec = Record(name, proc.pid, proc.pid, owner, str(log_path), cmd, _start_ticks(proc.pid))
        if into is not None:
            into.append(rec)
        return rec
    except BaseException:
        if proc is not None and (into is None or not any(r.pid == proc.pid for r in into)):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        raise


def _owner_of(pid: int) -> str | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    prefix = f"{OWNER_VAR}=".encode()
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return None


def _stat(pid: int) -> list[str] | None:
    """Fields 3 onwards of /proc/PID/stat (the command name may contain spaces: split after it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _pgid_of(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[2]) if fields and fields[0] != "Z" else None


def _start_ticks(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def _is_ours(rec: Record, pid: int) -> bool:
    if _pgid_of(pid) != rec.pgid:
        return False
    if pid == rec.pid and rec.start_ticks is not None and _start_ticks(pid) == rec.start_ticks:
        return True
    return _owner_of(pid) == rec.owner


def members(rec: Record, escaped: bool = True) -> list[int]:
    """Live processes of ``rec``'s group that carry its ownership tag, and (``escaped``) those that left the group:
    started by one of it (their parent, or its parent..., is one), carrying its tag (a fresh uuid per start: it
    proves the process is ours). A server may move its children into sessions of their own: Ray's workers do.

    One read of /proc/PID/stat per process; the environment only of the group's and of its descendants."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and fields[0] != "Z":
                stats[int(entry.name)] = fields
    ours = [pid for pid, f in stats.items() if int(f[2]) == rec.pgid and _is_ours(rec, pid)]
    if not escaped or not ours:
        return ours
    children: dict[int, list[int]] = {}
    for pid, f in stats.items():
        children.setdefault(int(f[1]), []).append(pid)
    found, todo = set(ours), list(ours)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found and int(stats[child][2]) != rec.pgid and _owner_of(child) == rec.owner:
                found.add(child)
                todo.append(child)
    return sorted(found)


def pin(records: list[Record], cpus: set[int]) -> int:
    """Run every thread of ``records``' live processes on ``cpus`` only; returns how many threads.

    Threads and processes they start later inherit it (a gunicorn master's new workers too).
    """
    count = 0
    for rec in records:
        for pid in members(rec):
            for task in Path(f"/proc/{pid}/task").glob("[0-9]*"):
                try:
                    os.sched_setaffinity(int(task.name), cpus)
                    count += 1
                except OSError:  # the thread ended meanwhile
                    pass
    return count


def alive(rec: Record) -> bool:
    return bool(members(rec))


def leader_alive(rec: Record) -> bool:
    return _is_ours(rec, rec.pid)


def stop(rec: Record, timeout: float = 10.0) -> bool:
    """SIGTERM the group, wait, then SIGKILL what is left. True if something of ours was running.

    Processes that left the group (``_escaped``) are known by PID and start time before the group is signalled:
    once their parents are gone they can no longer be told apart by ancestry, so they are waited for, then
    killed, by that record."""
    if not members(rec):
        return False
    escaped = {pid: _start_ticks(pid) for pid in members(rec) if _pgid_of(pid) != rec.pgid}
    still = lambda: [p for p, t in escaped.items() if _start_ticks(p) == t and _pgid_of(p) is not None]  # noqa: E731
    _signal_group(rec, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not members(rec) and not still():
            return True
        time.sleep(0.05)
    _signal_group(rec, signal.SIGKILL)
    for pid in set(members(rec)) | set(still()):  # what left the group, by PID: each carries this start's tag
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while (members(rec) or still()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def reload(rec: Record, timeout: float = 30.0) -> float:
    """SIGHUP the group's leader (nginx's master: re-read the configuration, start new workers, let the old ones
    finish what they hold) and wait until every process of the group that was there before, the leader aside, has
    exited; returns the seconds that took. Only the leader we spawned is signalled (same PID and start time)."""
    if not (rec.pid == rec.pgid and rec.start_ticks is not None and _start_ticks(rec.pid) == rec.start_ticks):
        raise ProcessLookupError(f"{rec.name} (pid {rec.pid}) is not running as the lab started it")
    # Its children, by parent PID: nginx clears its workers' environment, so they carry no ownership tag; they
    # are only watched here, never signalled.
    old = {c.pid: _start_ticks(c.pid) for c in psutil.Process(rec.pid).children()}
    t0 = time.monotonic()
    os.kill(rec.pid, signal.SIGHUP)
    while time.monotonic() - t0 < timeout:
        if not [p for p, t in old.items() if _start_ticks(p) == t and _pgid_of(p) is not None]:
            return time.monotonic() - t0
        time.sleep(0.01)
    raise TimeoutError(f"{rec.name}: its old workers still run {timeout:g} s after the reload")


def _signal_group(rec: Record, sig: signal.Signals) -> None:
    if not members(rec, escaped=False):
        return
    try:
        os.killpg(rec.pgid, sig)
    except ProcessLookupError:
        pass


def reap(rec: Record) -> None:
    """Collect the exit status of a child we spawned ourselves, if it has exited (no zombies)."""
    try:
        os.waitpid(rec.pid, os.WNOHANG)
    except ChildProcessError:
        pass


class StateFile:
    """The records of a running stack, written atomically (write, then rename)."""

    def __init__(self, path: Path):
        self.path = path

    def read(self) -> list[Record]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        return [Record(**r) for r in data.get("processes", [])]

    def write(self, records: list[Record]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"processes": [asdict(r) for r in records]}, indent=2))
        os.replace(tmp, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def memory(records: list, service: str) -> dict:
    """RSS of the scoring handler's processes, after the load: in total and per worker process.

    Its recorded process is the server's master (gunicorn's arbiter, uvicorn's and granian's supervisor)
    when it has workers; the others of its group are the workers, but for multiprocessing's resource
    tracker (uvicorn starts one). A server with no separate master counts its one process as the worker.
    USS is the memory a process holds alone (shared copy-on-write pages left out): what one more worker costs.
    """
    rec = next(r for r in records if r.name == service)
    rss, uss = {}, {}
    for pid in members(rec):
        try:
            proc = psutil.Process(pid)
            if "multiprocessing.resource_tracker" in " ".join(proc.cmdline()):
                continue
            mem = proc.memory_full_info()
        except psutil.Error:
            continue
        rss[pid], uss[pid] = mem.rss / 2**20, mem.uss / 2**20
    workers = [pid for pid in rss if pid != rec.pid] or list(rss)
    return {
        "scoring_rss_mb": sum(rss.values()),
        "scoring_processes": len(rss),
        "rss_per_worker_mb": sum(rss[p] for p in workers) / len(workers) if workers else None,
        "uss_per_worker_mb": sum(uss[p] for p in workers) / len(workers) if workers else None,
    }


def tier_rss(records: list, service: str) -> dict:
    """RSS of every process of ``service`` (a model tier: a model server's runtime and workers included, those
    that left its group too), after the load, with how many processes that is."""
    rec = next(r for r in records if r.name == service)
    total, count = 0.0, 0
    for pid in members(rec):
        try:
            total += psutil.Process(pid).memory_info().rss / 2**20
            count += 1
        except psutil.Error:
            continue
    return {"model_rss_mb": total, "model_processes": count}


def cpu_seconds(records: list) -> float:
    """The CPU time (user and system) the live processes of ``records`` have used so far, their escaped members
    included: read before and after a stretch of load, the difference is what serving it cost (a worker that ends
    between the two readings takes its share with it)."""
    ticks = 0
    for rec in records:
        for pid in members(rec):
            fields = _stat(pid)
            if fields:
                ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of the line)
    return ticks / os.sysconf("SC_CLK_TCK")


def cores_busy_seconds(cpus: set[int]) -> float:
    """The time the cores ``cpus`` have spent busy so far (/proc/stat: user, nice, system, irq, softirq and steal),
    whoever spent it: read before and after a stretch of load on a chain pinned to them, it counts what its
    processes' own CPU time leaves out (the kernel's loopback network work done in softirq, its threads, a
    hypervisor's steal)."""
    ticks = 0
    with open("/proc/stat") as f:
        for line in f:
            name, *fields = line.split()
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
                user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
                ticks += user + nice + system + irq + softirq + steal
    return ticks / os.sysconf("SC_CLK_TCK")
