"""Sample CPU time and RSS of process groups while a scenario runs (from /proc, via psutil)."""

from __future__ import annotations

import math
import statistics
import threading
import time
from pathlib import Path

import psutil

from benchmark.rundir import write_atomic
from lab import processes
from lab.processes import Record


def _usage(recs: list[Record]) -> tuple[float, int]:
    cpu, rss = 0.0, 0
    for rec in recs:
        for pid in processes.members(rec):
            try:
                proc = psutil.Process(pid)
                times = proc.cpu_times()
                cpu += times.user + times.system
                rss += proc.memory_info().rss
            except psutil.Error:
                continue
    return cpu, rss


class Sampler(threading.Thread):
    """Every ``interval`` s, cumulative CPU seconds and total RSS of each named group of records."""

    def __init__(self, groups: dict[str, list[Record]], interval: float = 0.5):
        super().__init__(daemon=True)
        self.groups = groups
        self.interval = interval
        self.rows: list[tuple[float, str, float, int]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            now = time.time()
            for name, recs in self.groups.items():
                cpu, rss = _usage(recs)
                self.rows.append((now, name, cpu, rss))
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)

    def write(self, path: Path) -> None:
        lines = ["time,group,cpu_s,rss_bytes"] + [f"{t:.3f},{g},{c:.3f},{r}" for t, g, c, r in self.rows]
        write_atomic(path, "\n".join(lines) + "\n")


def machine_shares(before, after) -> dict[str, float | None]:
    """Of the machine's CPU time between two ``psutil.cpu_times()`` readings (all cores), the percent busy
    and the percent stolen: time the hypervisor gave to other tenants of a shared machine while our
    threads were ready to run. None when the readings span no time."""
    total = sum(after) - sum(before)
    if total <= 0:
        return {"machine_busy_pct": None, "machine_steal_pct": None}
    delta = {f: getattr(after, f) - getattr(before, f) for f in after._fields}
    busy = total - delta.get("idle", 0.0) - delta.get("iowait", 0.0) - delta.get("steal", 0.0)
    return {"machine_busy_pct": 100 * busy / total, "machine_steal_pct": 100 * delta.get("steal", 0.0) / total}


SPEED_ITERATIONS = 20_000  # one unit of fixed work: about 1-2 ms of pure Python on the development machine


def speed_unit_ms() -> float:
    """How fast this machine runs pure Python now: the best of three timings of one fixed unit of work, in
    ms. The best, so that a preemption inside one timing does not count; what is left is the core's speed,
    which on a shared machine varies (on the development machine: two speeds about 1.6x apart, switching
    from second to second; doc/NOTEBOOK.md)."""
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        total = 0
        for i in range(SPEED_ITERATIONS):
            total += i * i % 7
        best = min(best, time.perf_counter() - t0)
    return 1000 * best


class SpeedSampler(threading.Thread):
    """``speed_unit_ms`` every ``interval`` s while a probe runs: about 1% of one core at the default."""

    def __init__(self, interval: float = 0.5):
        super().__init__(daemon=True)
        self.interval = interval
        self.samples: list[float] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.samples.append(speed_unit_ms())

    def stop(self) -> float | None:
        """Stop, and return the median unit time over the samples (None: no sample)."""
        self._stop_event.set()
        self.join(timeout=5)
        return statistics.median(self.samples) if self.samples else None
