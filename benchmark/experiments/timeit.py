"""Experiment 2: n sequential calls per chain, timed with timeit, chains alternating."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from benchmark import timeit_exp
from benchmark.experiments import Context, Experiment
from benchmark.report.tables import Section

OPTIONS = ("timeit_min_calls", "timeit_max_calls", "timeit_repetitions")


def run(ctx: Context) -> dict:
    p = ctx.profile
    rows = timeit_exp.run(ctx.stack, ctx.path, p.timeit_min_calls, p.timeit_max_calls, p.timeit_repetitions,
                          ctx.progress)  # fmt: skip
    faster = timeit_exp.async_faster_percent(rows)
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
    return {"timeit": {"rows": rows, "async_faster_pct": timeit_exp.async_faster_percent(rows)}}


def make_plots(summary: dict) -> dict[str, bytes]:
    from benchmark.report import plots  # matplotlib: only when a report is built

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
)
