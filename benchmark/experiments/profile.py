"""Experiment 1: profile one prediction per chain, client and servers (pyinstrument, yappi)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from api_common.contract import CHAINS, SAMPLE
from benchmark.experiments import Context, Experiment
from benchmark.profiling import experiment as profiling
from benchmark.profiling.breakdown import breakdown
from benchmark.render.tables import Section, num
from lab.stack import Stack


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


def run(ctx: Context) -> dict:
    server_side = server_profiling_enabled(ctx.stack)
    mode = "on" if server_side else "off: the stack was started without profiling, or is remote"
    ctx.progress(f"    server side profiling {mode}")
    profiling.run(ctx.stack, ctx.path / "profiling", server_side)
    return {"server_side": server_side}


def sections(summary: dict) -> list[Section]:
    prof = summary.get("profiling", {})
    out = []
    if prof.get("breakdown"):
        cats = ("models", "redis", "serialisation", "framework", "total")
        rows = [[ch, *(num(b.get(k)) for k in cats)] for ch, b in prof["breakdown"].items()]
        out.append(
            Section(
                "Profiling: where one request's wall time goes (scoring handler, pyinstrument)",
                "One profiled request per chain (profilers slow it down); each frame's time goes to its outermost "
                "category (waiting on the model API, Redis, JSON and validation, everything else). In the async "
                "chain pyinstrument books part of the time spent awaiting to the event loop (framework) rather than "
                "to the call that awaits; the Server-Timing split of lab compare is the measured one.",
                ["chain", *(f"{c} (ms)" for c in cats)],
                rows,
            )
        )
    elif prof:
        out.append(Section("Profiling", "Server-side profiling was off: the stack was started without it."))
    if prof.get("files"):
        rows = [[key, ", ".join(names)] for key, names in prof["files"].items()]
        out.append(Section("Profile files (in profiling/)", "", ["chain-profiler", "files"], rows, fold=True))
    return out


def summarise(run: Path, manifest: dict) -> dict[str, Any]:
    """The profiling index, with each chain's breakdown recomputed from its saved pyinstrument session."""
    folder = run / "profiling"
    index = folder / "index.json"
    if not index.exists():
        return {"profiling": {}}
    data = json.loads(index.read_text())
    for chain in CHAINS:
        sessions = sorted(folder.glob(f"{chain}-scoring-{chain}-pyinstrument-*.pyisession"))
        if sessions:
            data.setdefault("breakdown", {})[chain] = breakdown(sessions[-1])
    return {"profiling": data}


def make_plots(summary: dict) -> dict[str, bytes]:
    from benchmark.render import plots  # matplotlib: only when a report is built

    rows = summary.get("profiling", {}).get("breakdown")
    return {"breakdown.png": plots.breakdown(rows)} if rows else {}


EXPERIMENT = Experiment(
    "profile", 1, "profiling one request per chain",
    "experiment 1: profile one prediction per chain (pyinstrument, yappi)", (), run, sections, make_plots,
    summarise=summarise,
)  # fmt: skip
