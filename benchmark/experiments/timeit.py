"""Experiment 2: n sequential calls to each chain, ``repetitions`` times, for n in a range, timed with timeit."""

from __future__ import annotations

import csv
import io
import statistics
import timeit
from pathlib import Path
from typing import Any

import httpx

from api_common.contract import CHAINS, SAMPLE
from benchmark.experiments import Context, Experiment
from benchmark.render.tables import Section
from benchmark.rundir import write_atomic
from lab.stack import Stack

OPTIONS = ("timeit_min_calls", "timeit_max_calls", "timeit_repetitions")
FIELDS = ("n", "chain", "mean_s", "median_s", "min_s", "max_s")


def time_calls(stack: Stack, out: Path, min_calls: int, max_calls: int, repetitions: int, progress=print) -> list[dict]:
    """Write ``timeit.csv`` and return its rows. Chains alternate per n, so drift hits both alike."""
    rows = []
    with httpx.Client(timeout=10.0) as client:
        for n in range(min_calls, max_calls + 1):
            for chain in CHAINS:
                url = stack.scoring(chain).predict_url

                def calls(url=url, n=n):
                    for _ in range(n):
                        client.post(url, json=SAMPLE).raise_for_status()

                times = timeit.repeat(calls, number=1, repeat=repetitions)
                rows.append(
                    {
                        "n": n,
                        "chain": chain,
                        "mean_s": statistics.fmean(times),
                        "median_s": statistics.median(times),
                        "min_s": min(times),
                        "max_s": max(times),
                    }
                )
            progress(f"  timeit n={n}/{max_calls}")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(out / "timeit.csv", buf.getvalue())
    return rows


def async_faster_percent(rows: list[dict]) -> float:
    """Mean over n of how much less time the async chain took than the sync one, in percent."""
    by = {(int(r["n"]), r["chain"]): float(r["median_s"]) for r in rows}
    ns = sorted({int(r["n"]) for r in rows})
    gains = [(by[(n, "sync")] - by[(n, "async")]) / by[(n, "sync")] * 100 for n in ns if by.get((n, "sync"))]
    return statistics.fmean(gains) if gains else float("nan")


def run(ctx: Context) -> dict:
    p = ctx.profile
    rows = time_calls(ctx.stack, ctx.path, p.timeit_min_calls, p.timeit_max_calls, p.timeit_repetitions,
                          ctx.progress)  # fmt: skip
    faster = async_faster_percent(rows)
    ctx.progress(f"    async chain faster by {faster:.1f}% on average")
    return {"async_faster_pct": faster}


def sections(summary: dict) -> list[Section]:
    t = summary.get("timeit", {})
    if not t.get("rows"):
        return []
    return [
        Section(
            "timeit",
            "Median time of n sequential calls per chain (see the plot). Mean over n of how much less time "
            f"the async chain took than the sync one: {t['async_faster_pct']:.1f}%.",
        )
    ]


def summarise(run: Path, manifest: dict) -> dict[str, Any]:
    path = run / "timeit.csv"
    if not path.exists():
        return {"timeit": {}}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {"timeit": {"rows": rows, "async_faster_pct": async_faster_percent(rows)}}


def make_plots(summary: dict) -> dict[str, bytes]:
    from benchmark.render import plots  # matplotlib: only when a report is built

    rows = summary.get("timeit", {}).get("rows")
    return {"timeit.png": plots.timeit(rows)} if rows else {}


EXPERIMENT = Experiment(
    "timeit",
    2,
    "timeit",
    "experiment 2: time n sequential calls per chain",
    OPTIONS,
    run,
    sections,
    make_plots,
    summarise=summarise,
    # n sequential calls per chain, n over the range, each repetition: about 0.17 s a call of both chains here.
    expected_s=lambda p: 0.17 * p.timeit_repetitions * sum(range(p.timeit_min_calls, p.timeit_max_calls + 1)),
)
