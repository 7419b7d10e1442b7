"""Profile one prediction per chain with pyinstrument and yappi, on the client and on every server.

Server files are written by the services into their own profile folder (the client only asks
with ``?profile=``); the lab then copies the new ones into the run folder.
"""

from __future__ import annotations

import io
import shutil
import time
from pathlib import Path

import httpx

from api_common.contract import CHAINS, SAMPLE
from api_common.profiling import PROFILERS
from benchmark.profiling.breakdown import breakdown
from benchmark.rundir import write_atomic, write_json
from lab.stack import Stack


def _client_call(url: str, params: dict[str, str]) -> httpx.Response:
    with httpx.Client(timeout=10.0) as client:
        return client.post(url, json=SAMPLE, params=params)


def profile_client(url: str, profiler: str, params: dict[str, str], out: Path, stem: str) -> httpx.Response:
    """Run one request under ``profiler`` in this process and write its output."""
    if profiler == "pyinstrument":
        from pyinstrument import Profiler

        prof = Profiler(interval=0.0005, async_mode="disabled")
        prof.start()
        resp = _client_call(url, params)
        prof.stop()
        write_atomic(out / f"{stem}.txt", prof.output_text())
        write_atomic(out / f"{stem}.html", prof.output_html())
        return resp
    import yappi

    yappi.clear_stats()
    yappi.set_clock_type("wall")
    yappi.start(builtins=False)
    resp = _client_call(url, params)
    yappi.stop()
    buf = io.StringIO()
    yappi.get_func_stats().sort("ttot", "desc").print_all(
        out=buf, columns={0: ("name", 80), 1: ("ncall", 8), 3: ("ttot", 10)}
    )
    yappi.clear_stats()
    write_atomic(out / f"{stem}.txt", buf.getvalue())
    return resp


def run(stack: Stack, out: Path, server_side: bool) -> dict:
    """Profile both chains; returns an index of the files and the wall-time breakdown per chain."""
    out.mkdir(parents=True, exist_ok=True)
    index: dict = {"server_side": server_side, "files": {}, "breakdown": {}, "latency_ms": {}}
    for chain in CHAINS:
        url = stack.scoring(chain).predict_url
        for profiler in PROFILERS:
            before = _snapshot(stack, chain)
            params = {"profile": profiler} if server_side else {}
            t0 = time.perf_counter()
            resp = profile_client(url, profiler, params, out, f"{chain}-client-{profiler}")
            index["latency_ms"][f"{chain}-{profiler}"] = round((time.perf_counter() - t0) * 1000, 2)
            if resp.status_code != 200:
                raise RuntimeError(f"profiled request to {chain} answered {resp.status_code}: {resp.text[:200]}")
            files = [f"{chain}-client-{profiler}.txt"] + (
                [f"{chain}-client-{profiler}.html"] if profiler == "pyinstrument" else []
            )
            if server_side:
                files += _collect(stack, chain, before, out)
            index["files"][f"{chain}-{profiler}"] = files
        sessions = sorted(out.glob(f"{chain}-scoring-{chain}-pyinstrument-*.pyisession"))
        if sessions:
            index["breakdown"][chain] = breakdown(sessions[-1])
    write_json(out / "index.json", index)
    return index


def _snapshot(stack: Stack, chain: str) -> dict[str, set[str]]:
    return {
        svc.name: set(p.name for p in Path(svc.settings.profile_dir).glob(f"{svc.name}-*"))
        for svc in stack.services
        if svc.chain == chain
    }


def _collect(stack: Stack, chain: str, before: dict[str, set[str]], out: Path) -> list[str]:
    """Copy the files the chain's services wrote for this request, named by chain and service."""
    copied = []
    deadline = time.monotonic() + 5
    for svc in stack.services:
        if svc.chain != chain:
            continue
        folder = Path(svc.settings.profile_dir)
        while True:
            new = sorted(
                set(p.name for p in folder.glob(f"{svc.name}-*") if not p.name.endswith(".tmp")) - before[svc.name]
            )
            if new or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for name in new:
            target = f"{chain}-{name}"
            shutil.copyfile(folder / name, out / target)
            copied.append(target)
    return copied
