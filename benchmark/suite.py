"""The comparison, in order: verify, warm up, profile, timeit, LoadGen capacity, Locust; then the report.

Every run writes a new folder; an interrupted or failed run keeps what it measured and is marked
incomplete in its manifest.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import httpx

from api_common.contract import CHAINS, SAMPLE
from api_common.settings import cpu_count
from benchmark import timeit_exp
from benchmark.loadgen import capacity
from benchmark.locust import scenarios
from benchmark.profiles import Profile
from benchmark.profiling import experiment as profiling
from benchmark.report.build import build
from benchmark.rundir import Run, manifest, new_run_dir, write_atomic
from benchmark.verify import verify, warm_up
from lab import processes
from lab.control import state_file
from lab.settings import LabSettings
from lab.stack import Stack

EXPERIMENTS = ("profile", "timeit", "capacity", "locust")  # what ``make run`` runs, in this order


def settings_snapshot(stack: Stack) -> dict:
    """Every setting of the services the lab runs; for a chain at a user's URL, only that URL."""
    snap = {"redis": stack.redis.model_dump(mode="json")}
    for svc in stack.services:
        if stack.remote(svc.chain):
            snap[svc.name] = {"remote": True, "url": svc.url} if svc.external_url else {"remote": True}
        else:
            s = svc.settings
            # What the server makes of the settings: its worker count and the requests it holds at once.
            snap[svc.name] = s.model_dump(mode="json") | {
                "workers_effective": s.worker_count(), "concurrency": s.concurrency(), "app_module": svc.app_module,
            }  # fmt: skip
    return snap


def locust_processes() -> int:
    """One Locust process per core the servers do not need (the servers get half the cores)."""
    return max(1, cpu_count() - max(1, cpu_count() // 2))


def server_profiling_enabled(stack: Stack) -> bool:
    """Ask the running scoring handler; a stack started without profiling answers 403.

    A chain at a user's URL writes its profiles on its own host, out of the lab's reach: client side only.
    """
    if any(stack.remote(chain) for chain in CHAINS):
        return False
    svc = stack.scoring("sync")
    try:
        resp = httpx.post(svc.predict_url, params={"profile": "bogus"}, json=SAMPLE, timeout=5)
    except httpx.HTTPError:
        return False
    return resp.status_code == 422  # the profiler name was checked, so profiling is on


def _locust(
    stack: Stack, lab: LabSettings, profile: Profile, out: Path, progress: Callable[[str], None],
    sustainable: dict[str, float | None],
) -> None:  # fmt: skip
    records = state_file(lab).read()
    procs = locust_processes()
    for chain in CHAINS:
        mine = [r for r in records if r.name in chain_processes(stack, chain)]
        scenarios.up_to_max_performance(stack, chain, profile, out, mine, procs, progress, sustainable.get(chain))
        scenarios.stress(stack, chain, profile, out, mine, procs, progress)


def chain_processes(stack: Stack, chain: str) -> tuple[str, ...]:
    """The lab's processes that serve ``chain``: none when the chain runs at a user's URL."""
    return () if stack.remote(chain) else ("redis", f"model-{chain}", f"scoring-{chain}")


def _capacity(
    stack: Stack, lab: LabSettings, profile: Profile, out: Path, progress: Callable[[str], None]
) -> dict[str, capacity.Capacity]:
    """Experiment 4 for each chain: the load at which p99 meets the bound, with its interval."""
    found = {}
    cores = sorted(os.sched_getaffinity(0))
    pin = profile.capacity_pin and len(cores) > 1 and not any(stack.remote(c) for c in CHAINS)
    client_cpus, chain_cpus = ({cores[-1]}, set(cores[:-1])) if pin else (None, None)
    records = state_file(lab).read()
    for chain in CHAINS:
        progress(f"    loadgen {chain}: capacity at p99 <= {profile.capacity_bound_ms:.0f} ms")
        mine = [r for r in records if r.name in chain_processes(stack, chain)]
        if chain_cpus:
            threads = processes.pin(mine, chain_cpus)
            progress(f"    pinned: LoadGen on core {cores[-1]}, {threads} threads of the {chain} chain on the others")
        try:
            cap = capacity.find(
                stack.scoring(chain).predict_url, profile.capacity_bound_ms, profile.capacity_probe_s, out / chain,
                budget_s=profile.capacity_budget_s, entities=stack.redis.entities, progress=progress,
                client_cpus=client_cpus,
            )  # fmt: skip
        finally:
            if chain_cpus:
                processes.pin(mine, set(cores))
        found[chain] = cap
        progress(f"    {chain} capacity: {cap.text()}")
    return found


def scrape_metrics(stack: Stack, out: Path) -> None:
    """Each service's Prometheus metrics, as they stand after the experiments, into the run folder."""
    with httpx.Client(timeout=5.0) as client:
        for svc in stack.services:
            if stack.remote(svc.chain) and not svc.external_url:
                continue  # a remote chain's model API: the lab does not know where it is
            try:
                resp = client.get(f"{svc.url}/metrics")
            except httpx.HTTPError:
                continue
            if resp.status_code == 200:
                write_atomic(out / f"{svc.name}.prom", resp.text)


def run(
    stack: Stack,
    lab: LabSettings,
    profile: Profile,
    experiments: tuple[str, ...] = EXPERIMENTS,
    progress: Callable[[str], None] = print,
    label: str = "run",
) -> Path:
    """Run ``experiments`` against the running ``stack``; return the run folder (report inside)."""
    path = new_run_dir(lab.results_dir, label)
    options = profile.as_dict() | {
        "profile": profile.name,
        "experiments": list(experiments),
        "locust_processes": locust_processes(),
        "targets": {chain: stack.scoring(chain).url for chain in CHAINS},
        "remote": [chain for chain in CHAINS if stack.remote(chain)],
    }
    run_ = Run(path, manifest(settings_snapshot(stack), options))
    # The processes measured, as the lab recorded them (PID, process group, command line).
    run_.manifest["processes"] = [asdict(r) for r in state_file(lab).read()]
    run_.save()
    progress(f"run folder: {path}")
    try:
        with run_.recording():
            t = time.monotonic()
            progress("verifying every endpoint")
            run_.step_done("verify", time.monotonic() - t, checks=verify(stack))
            warm_up(stack)
            if "profile" in experiments:
                t = time.monotonic()
                server_side = server_profiling_enabled(stack)
                mode = "on" if server_side else "off: the stack was started without profiling, or is remote"
                progress(f"experiment 1: profiling (server side {mode})")
                profiling.run(stack, path / "profiling", server_side)
                run_.step_done("profile", time.monotonic() - t, server_side=server_side)
            if "timeit" in experiments:
                t = time.monotonic()
                progress("experiment 2: timeit")
                rows = timeit_exp.run(
                    stack,
                    path,
                    profile.timeit_min_calls,
                    profile.timeit_max_calls,
                    profile.timeit_repetitions,
                    progress,
                )
                faster = timeit_exp.async_faster_percent(rows)
                progress(f"  async chain faster by {faster:.1f}% on average")
                run_.step_done("timeit", time.monotonic() - t, async_faster_pct=faster)
            sustainable: dict[str, float | None] = {}
            if "capacity" in experiments:
                t = time.monotonic()
                progress("experiment 4: capacity at a latency bound (LoadGen, open loop)")
                found = _capacity(stack, lab, profile, path / "loadgen", progress)
                # The lower end of the interval: a load the chain sustains under the bound with confidence.
                sustainable = {chain: cap.low or cap.qps or None for chain, cap in found.items()}
                qps = {chain: [cap.qps, cap.low, cap.high] for chain, cap in found.items()}
                run_.step_done("capacity", time.monotonic() - t, capacity_qps=qps)
            if "locust" in experiments:
                t = time.monotonic()
                progress("experiment 3: locust")
                _locust(stack, lab, profile, path / "locust", progress, sustainable)
                run_.step_done("locust", time.monotonic() - t)
            scrape_metrics(stack, path / "metrics")
    finally:
        build(path)
    return path
