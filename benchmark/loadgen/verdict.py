"""A probe's verdict: its figures from LoadGen's result and its per-query log, judged against the bound."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from benchmark.loadgen import stats
from benchmark.loadgen.records import FAILED_MS, Probe


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isinf(value) else value  # JSON has no infinity


def _read_queries(folder: Path) -> tuple[list[float], list[float], list[int]]:
    try:
        with open(folder / "queries.csv", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return [], [], []
    return [float(r["sent_s"]) for r in rows], [float(r["latency_ms"]) for r in rows], [int(r["status"]) for r in rows]


def judge(qps: float, duration_s: float, bound_ms: float, folder: Path, result: dict, phase: str) -> Probe:
    """A probe's figures and verdicts from its result and its per-query log."""
    sent, latency, status = _read_queries(folder)
    # A failed query counts as over the bound: it was not answered within it.
    effective = [lat if st == 200 else math.inf for lat, st in zip(latency, status, strict=True)]
    over = sum(1 for lat in effective if lat > bound_ms)
    errors = int(result.get("errors", -1))
    queue = stats.queue_building(sent, latency)
    p99 = result.get("p99_ms")
    tail = [min(x, FAILED_MS) for x in stats.Point.of(qps, effective).tail]
    low, high = stats.quantile_interval(effective) if effective else (None, None)
    passed = p99 is not None and p99 <= bound_ms and errors == 0 and not queue
    if errors != 0 or queue or stats.confidently_over(over, len(effective)):
        verdict = "fail"
    elif result.get("early_stopping") == "Yes" and passed:
        verdict = "pass"
    else:
        verdict = "unsure"
    return Probe(
        qps, passed, p99, result.get("p50_ms"), result.get("completed_qps"), errors, result.get("valid"),
        result.get("client_cpu_pct"), str(folder), duration_s, len(effective), over, _finite(low), _finite(high),
        queue, result.get("early_stopping"), verdict, phase, tail,
    )  # fmt: skip
