"""Experiment 2: time n sequential calls to each chain, ``repetitions`` times, for n in a range."""

from __future__ import annotations

import csv
import io
import statistics
import timeit
from pathlib import Path

import httpx

from api_common.contract import CHAINS, SAMPLE
from benchmark.rundir import write_atomic
from lab.stack import Stack

FIELDS = ("n", "chain", "mean_s", "median_s", "min_s", "max_s")


def run(stack: Stack, out: Path, min_calls: int, max_calls: int, repetitions: int, progress=print) -> list[dict]:
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
