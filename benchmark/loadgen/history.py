"""Earlier capacity runs of the same code, settings and machine: how far the figure moves from run to run.

One run's interval holds that run's noise only. A shared machine also changes speed over tens of minutes
(doc/NOTEBOOK.md: the async chain's figure had a spread between runs nearly twice what one run's interval
shows, and halves of one run agreed within their intervals), and no run can see a drift slower than itself.
The results folder already keeps every earlier run, so a capacity run records the figures of those that match
it, and the summary sets them beside its own: a user sees how much a rerun moves, not only this run's noise.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from api_common.contract import CHAINS
from benchmark.rundir import load_manifest, write_json

# What must match for an earlier run's figure to be a repeat of this one: the code (``rundir.source_fingerprint``),
# the chains' settings, the machine, and the options that move the figure (the budget does not: it sets how tight
# the interval gets).
SAME_MANIFEST = ("source", "cpu_model", "cpu_count", "settings")
SAME_OPTIONS = ("capacity_bound_ms", "capacity_probe_s", "capacity_pin", "targets", "remote")
KEEP = 20  # the most recent matches: enough to see the spread, few enough to stay the same machine's recent state
FILE = "earlier.json"


def _key(manifest: dict[str, Any]) -> tuple[str, ...]:
    options = manifest.get("options", {})
    fields = [manifest.get(k) for k in SAME_MANIFEST] + [options.get(k) for k in SAME_OPTIONS]
    return tuple(json.dumps(f, sort_keys=True) for f in fields)


def earlier(run: Path, keep: int = KEEP) -> list[dict[str, Any]]:
    """The capacity figures of complete runs in ``run``'s results folder that started before it with the same
    code, settings and machine, newest first; none when the code could not be fingerprinted."""
    try:
        mine = load_manifest(run)
    except (OSError, ValueError):
        return []
    if not mine.get("source"):
        return []
    key, found = _key(mine), []
    # Run folders are named by their UTC start, so those that sort before this one started before it.
    for other in sorted((p for p in run.parent.iterdir() if p.name < run.name), reverse=True):
        try:
            manifest = load_manifest(other)
        except (OSError, ValueError):
            continue
        if not manifest.get("complete") or _key(manifest) != key:
            continue
        searched, figures = False, {}
        for chain in CHAINS:
            try:
                data = json.loads((other / "loadgen" / chain / "capacity.json").read_text())
            except (OSError, ValueError):
                continue
            searched = True  # a search that found no figure (its probes never bracketed the bound) is listed too
            if data.get("qps"):
                figures[chain] = [data["qps"], data.get("low"), data.get("high")]
        if searched:
            found.append({"run": other.name, "started": manifest.get("started"), "capacity_qps": figures})
            if len(found) >= keep:
                break
    return found


def record(run: Path) -> list[dict[str, Any]]:
    """Find the earlier runs and keep them in the run folder, so its report is made from its own files."""
    found = earlier(run)
    write_json(run / "loadgen" / FILE, found)
    return found


def load(run: Path) -> list[dict[str, Any]]:
    try:
        return json.loads((run / "loadgen" / FILE).read_text())
    except (OSError, ValueError):
        return []


def spread(runs: list[dict[str, Any]], chain: str, low: float | None, high: float | None) -> dict[str, Any] | None:
    """One chain's earlier figures: how many, their median and range, and how many fall outside this run's
    interval (``low``-``high``; None without one); None when no earlier run measured the chain."""
    figures = [r["capacity_qps"][chain][0] for r in runs if chain in r.get("capacity_qps", {})]
    if not figures:
        return None
    outside = None if low is None or high is None else sum(1 for f in figures if not low <= f <= high)
    return {"runs": len(figures), "median": statistics.median(figures), "min": min(figures), "max": max(figures),
            "outside": outside}  # fmt: skip


def text(s: dict[str, Any] | None) -> str:
    """``135-156 QPS over 2 runs (median 145), 1 outside this run's interval`` (set I of doc/NOTEBOOK.md)."""
    if not s:
        return "none"
    low, high = f"{s['min']:.0f}", f"{s['max']:.0f}"
    if s["runs"] == 1:
        span = f"{low} QPS (1 run)"
    else:
        span = f"{low if low == high else f'{low}-{high}'} QPS over {s['runs']} runs (median {s['median']:.0f})"
    if s["outside"] is None:
        return f"{span}; this run has no interval"
    if not s["outside"]:
        return f"{span}, inside this run's interval"
    return f"{span}, {s['outside']} outside this run's interval"
