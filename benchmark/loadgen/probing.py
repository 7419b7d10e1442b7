"""Probes against a running chain: each a LoadGen process of its own (``benchmark.loadgen.probe``), in its own
folder of the run, bounded in time, after the chain has settled from the probe before."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import psutil

from api_common.contract import SAMPLE
from benchmark import resources
from benchmark.loadgen.records import Probe
from benchmark.loadgen.verdict import judge
from lab import processes


def probe(
    url: str, qps: float, duration_s: float, bound_ms: float, entities: int, folder: Path, phase: str = "bracket",
    cpus: set[int] | None = None, body: Path | None = None, fresh: bool = False,
) -> Probe:  # fmt: skip
    """Run one probe in a child process (own process group, bounded in time)."""
    min_queries = max(64, int(qps * duration_s))
    cmd = [
        sys.executable, "-m", "benchmark.loadgen.probe", "--url", url, "--qps", f"{qps:.3f}",
        "--duration-s", str(duration_s), "--min-queries", str(min_queries), "--bound-ms", str(bound_ms),
        "--entities", str(entities), "--outdir", str(folder), *(["--body", str(body.resolve())] if body else []),
        *(["--fresh-connections"] if fresh else []),
    ]  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    before, speed, started_at = psutil.cpu_times(), resources.SpeedSampler(), time.time()
    speed.start()
    rec = processes.spawn("loadgen", cmd, env, folder / "probe.log", uuid.uuid4().hex, cpus=cpus)
    try:
        # LoadGen stops by itself after its duration (at most 3x when it must reach min queries).
        subprocess_wait(rec, duration_s * 3 + 60)
    finally:
        processes.stop(rec, timeout=5)
        processes.reap(rec)
        speed_ms = speed.stop()
    machine = resources.machine_shares(before, psutil.cpu_times()) | {"speed_ms": speed_ms, "started_at": started_at}
    try:
        result = json.loads((folder / "result.json").read_text())
    except (OSError, ValueError):
        return Probe(qps, False, None, None, None, -1, None, None, str(folder), duration_s, verdict="fail", phase=phase,
                     **machine)  # fmt: skip
    return replace(judge(qps, duration_s, bound_ms, folder, result, phase), **machine)


def subprocess_wait(rec: processes.Record, timeout: float) -> None:
    end = time.monotonic() + timeout
    while processes.leader_alive(rec) and time.monotonic() < end:
        time.sleep(0.2)
    processes.reap(rec)


def settle(url: str, bound_ms: float, limit_s: float = 20.0, body: Path | None = None) -> float:
    """Wait until a single request is answered within the bound again; returns the seconds waited.

    A probe past capacity leaves work queued in the servers (a CPU-bound model keeps computing calls
    whose client gave up); the next probe must start from an idle chain, not inherit that backlog.
    """
    import httpx

    t0 = time.monotonic()
    sent = (
        {"content": body.read_bytes(), "headers": {"Content-Type": "application/json"}}
        if body
        else {"json": {"entity_id": "0", "features": SAMPLE}}
    )
    with httpx.Client(timeout=10.0) as client:
        while time.monotonic() - t0 < limit_s:
            try:
                started = time.perf_counter()
                ok = client.post(url, **sent).status_code == 200
                if ok and (time.perf_counter() - started) * 1000 < bound_ms:
                    return time.monotonic() - t0
            except httpx.HTTPError:
                pass
            time.sleep(1.0)
    return time.monotonic() - t0


def measurer(
    url: str, bound_ms: float, entities: int, out: Path, cpus: set[int] | None = None, body: Path | None = None
) -> Callable[[float, float, str], Probe]:  # fmt: skip
    """``measure(qps, seconds, phase)`` for a search: settle, then one probe in ``out/probe-NN-QQQqps``."""
    count = 0

    def measure(qps: float, seconds: float, phase: str) -> Probe:
        nonlocal count
        count += 1
        settle(url, bound_ms, body=body)
        folder = out / f"probe-{count:02d}-{qps:.0f}qps"
        return probe(url, qps, seconds, bound_ms, entities, folder, phase, cpus, body)

    return measure
