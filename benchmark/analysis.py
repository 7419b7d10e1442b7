"""Figures from a run folder's raw files: per-request CSVs, Locust histories, resource samples."""

from __future__ import annotations

import csv
import math
from bisect import bisect_right
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmark.profiles import MAX_PERF_SPAWN_S


@dataclass
class Request:
    start: float
    ms: float
    ok: bool
    timing: dict[str, float]
    status: int = 200  # 0: no HTTP answer (refused, reset, timed out)


def load_requests(prefix: Path) -> list[Request]:
    """Every request of a scenario, from all Locust processes' raw files, in start order."""
    rows = []
    for path in sorted(prefix.parent.glob(f"{prefix.name}-requests-*.csv")):
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                try:
                    timing = dict(
                        (k, float(v)) for k, v in (p.split(";dur=") for p in r["server_timing"].split("|") if p)
                    )
                    req = Request(float(r["start"]), float(r["response_ms"]), r["ok"] == "1", timing, int(r["status"]))
                    rows.append(req)
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a stopped Locust process
    rows.sort(key=lambda r: r.start)
    return rows


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation), NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Summary:
    requests: int
    failures: int
    failure_pct: float
    duration_s: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    redis_ms: float  # median Server-Timing spans of successful requests
    models_ms: float
    server_ms: float


def summarise(reqs: list[Request], trim_s: float = 0.0) -> Summary:
    """Latency percentiles over all requests (failed ones too) and throughput over the window."""
    if trim_s and reqs:
        start = reqs[0].start + trim_s
        reqs = [r for r in reqs if r.start >= start]
    if not reqs:
        nan = math.nan
        return Summary(0, 0, nan, 0.0, nan, nan, nan, nan, nan, nan, nan)
    ms = [r.ms for r in reqs]
    failures = sum(1 for r in reqs if not r.ok)
    # Throughput from completions, first send to last answer: counting sends would count a queue
    # building up (stress) as served.
    duration = max(max(r.start + r.ms / 1000 for r in reqs) - reqs[0].start, 1e-9)
    ok = [r for r in reqs if r.ok and r.timing]
    return Summary(
        requests=len(reqs),
        failures=failures,
        failure_pct=100 * failures / len(reqs),
        duration_s=duration,
        rps=len(reqs) / duration if len(reqs) > 1 else math.nan,
        p50_ms=percentile(ms, 50),
        p95_ms=percentile(ms, 95),
        p99_ms=percentile(ms, 99),
        redis_ms=percentile([r.timing["redis"] for r in ok if "redis" in r.timing], 50),
        models_ms=percentile([r.timing["models"] for r in ok if "models" in r.timing], 50),
        server_ms=percentile([r.timing["total"] for r in ok if "total" in r.timing], 50),
    )


def load_user_history(prefix: Path) -> list[tuple[float, int]]:
    """(timestamp, user count) from Locust's history CSV (the aggregated rows)."""
    path = Path(f"{prefix}_stats_history.csv")
    if not path.exists():
        return []
    out = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r.get("Name") == "Aggregated":
                out.append((float(r["Timestamp"]), int(float(r["User Count"]))))
    return out


@dataclass
class Step:
    start: float
    end: float
    users: int
    offered_rps: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    failure_pct: float
    requests: int


def ramp_steps(
    reqs: list[Request], history: list[tuple[float, int]], step_users: int, pacing_s: float = 1.0
) -> list[Step]:
    """Cut a ramp into steps of ``step_users`` users.

    A step's time window is the span of Locust's one-second history rows during which the user
    count was in that step. Latency percentiles are of the requests sent in the window; throughput
    counts the requests completed in it (send times would count a queue building up as served).
    Only the ramp up counts: history after the user count first drops (the stop) is left out.
    """
    if not reqs or not history:
        return []
    for i in range(1, len(history)):
        if history[i][1] < history[i - 1][1]:
            history = history[:i]
            break

    def bucket(users: int) -> int:
        return max(1, math.ceil(users / step_users)) * step_users

    windows: dict[int, list[float]] = {}
    user_counts: dict[int, list[int]] = {}
    for i, (t, users) in enumerate(history):
        if users == 0:
            continue  # before the first user started
        w = windows.setdefault(bucket(users), [t, t])
        w[0], w[1] = min(w[0], t), max(w[1], t)
        # A new user sends its first request at a random point of its first period: only the users
        # present a period earlier surely sent in this one, so they are the load offered in it.
        user_counts.setdefault(bucket(users), []).append(history[i - 1][1] if i else 0)
    times = [t for t, _ in history]
    buckets: dict[int, list[Request]] = {}
    for r in reqs:
        i = bisect_right(times, r.start)
        if i >= len(history):
            break  # after Locust's last history row: no user count is known for it
        # History rows are written at the end of each second: a request belongs to the next row.
        users = history[i][1]
        buckets.setdefault(bucket(users), []).append(r)
    completions = sorted(r.start + r.ms / 1000 for r in reqs)
    steps = []
    for top, rs in sorted(buckets.items()):
        if len(rs) < 5 or top not in windows:
            continue
        start, end = windows[top]
        start -= 1.0  # each history row stands for the second before it
        completed = bisect_right(completions, end) - bisect_right(completions, start)
        ms = [r.ms for r in rs]
        mean_users = max(sum(user_counts[top]) / len(user_counts[top]), 1)
        steps.append(
            Step(
                start=start,
                end=end,
                users=top,
                offered_rps=mean_users / pacing_s,
                rps=completed / (end - start),
                p50_ms=percentile(ms, 50),
                p95_ms=percentile(ms, 95),
                p99_ms=percentile(ms, 99),
                failure_pct=100 * sum(1 for r in rs if not r.ok) / len(rs),
                requests=len(rs),
            )
        )
    return steps


@dataclass
class BreakingPoint:
    users: int | None
    rps: float | None
    reason: str


def breaking_point(steps: list[Step], latency_bound_ms: float, keep_up: float = 0.95) -> BreakingPoint:
    """The last step before the chain stopped keeping up with its users.

    With paced users the offered load is known (one request per user per pacing period), so a
    step is past the breaking point when its throughput falls under ``keep_up`` of its offered
    load (throughput stopped growing with the users), its p95 passes the bound, or requests fail.
    Judging each step against its own offered load is robust to the noise of short steps, where a
    step-to-step gain test (say, under 5% gain) fires on noise or misses a partly saturated step.
    """
    last: Step | None = None
    for step in steps:
        if step.p95_ms > latency_bound_ms:
            return _bp(last, f"p95 {step.p95_ms:.0f} ms > {latency_bound_ms:.0f} ms at {step.users} users")
        if step.failure_pct > 0:
            return _bp(last, f"{step.failure_pct:.1f}% failures at {step.users} users")
        if step.rps < keep_up * step.offered_rps:
            served = f"{step.rps:.0f} of {step.offered_rps:.0f} req/s offered"
            return _bp(last, f"throughput stopped following the users at {step.users} users ({served})")
        last = step
    if last is None:
        return BreakingPoint(None, None, "no step measured")
    return BreakingPoint(last.users, last.rps, "not reached within the ramp: the ramp's top is a lower bound")


def ramp(prefix: Path, step_users: int, latency_bound_ms: float) -> tuple[list[Step], BreakingPoint]:
    """A load ramp's steps and its breaking point, from the scenario's files."""
    steps = ramp_steps(load_requests(prefix), load_user_history(prefix), step_users)
    return steps, breaking_point(steps, latency_bound_ms)


def held_requests(prefix: Path) -> list[Request]:
    """Max performance's requests once its users have spawned: the spawn is not the load held."""
    reqs = load_requests(prefix)
    if not reqs:
        return reqs
    return [r for r in reqs if r.start >= reqs[0].start + MAX_PERF_SPAWN_S] or reqs


def _bp(last: Step | None, reason: str) -> BreakingPoint:
    if last is None:
        return BreakingPoint(None, None, f"already broken at the first step: {reason}")
    return BreakingPoint(last.users, last.rps, reason)


@dataclass
class Resources:
    cpu_s: float
    peak_rss_mb: float
    peak_cpu_pct: float  # highest CPU use between two samples, percent of one core
    samples_over_90: int


def _resource_rows(prefix: Path, group: str) -> list[tuple[float, float, int]]:
    """(time, cumulative CPU s, RSS bytes) of ``group``, skipping samples where it had no process."""
    path = Path(f"{prefix}-resources.csv")
    if not path.exists():
        return []
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["group"] == group]
    return [(float(r["time"]), float(r["cpu_s"]), int(r["rss_bytes"])) for r in rows if int(r["rss_bytes"]) > 0]


def _rates(rows: list[tuple[float, float, int]]) -> list[tuple[float, float]]:
    """(time, CPU percent of one core) between consecutive samples."""
    return [
        (t2, 100 * (c2 - c1) / (t2 - t1)) for (t1, c1, _), (t2, c2, _) in zip(rows, rows[1:], strict=False) if t2 > t1
    ]


def load_resources(prefix: Path, group: str, start: float = 0.0, end: float = math.inf) -> Resources:
    """CPU and memory of ``group`` between ``start`` and ``end`` (start-up and shutdown left out)."""
    rows = [r for r in _resource_rows(prefix, group) if start <= r[0] <= end + 0.5]
    if len(rows) < 2:
        return Resources(math.nan, math.nan, math.nan, 0)
    rates = [rate for _, rate in _rates(rows)]
    return Resources(
        cpu_s=rows[-1][1] - rows[0][1],
        peak_rss_mb=max(r[2] for r in rows) / 2**20,
        peak_cpu_pct=max(rates) if rates else math.nan,
        samples_over_90=sum(1 for x in rates if x > 90),
    )


def cpu_series(prefix: Path, group: str) -> list[tuple[float, float]]:
    return _rates(_resource_rows(prefix, group))


def peak_in(series: list[tuple[float, float]], start: float, end: float) -> float:
    """Highest CPU percent sampled between ``start`` and ``end`` (NaN if none)."""
    inside = [pct for t, pct in series if start <= t <= end + 0.5]
    return max(inside) if inside else math.nan


def cpu_warnings(prefix: Path) -> int:
    path = Path(f"{prefix}-requests-cpu-warnings.txt")
    log = Path(f"{prefix}.log")
    count = len(path.read_text().split()) if path.exists() else 0
    if log.exists():
        count = max(count, log.read_text(errors="replace").count("CPU usage above"))
    return count


def as_dict(obj) -> dict:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(obj).items()}


BATCH_BANDS = ((1, 1), (2, 2), (3, 4), (5, 8), (9, 16), (17, 32), (33, math.inf))


def batch_sizes(prom: Path) -> dict | None:
    """The ``model_batch_size`` histogram of a model API's scraped ``/metrics``: model calls, items, mean
    size, and the share of calls in each band of ``BATCH_BANDS`` (its buckets are powers of two)."""
    if not prom.exists():
        return None
    from prometheus_client.parser import text_string_to_metric_families

    cumulative: dict[float, float] = {}
    calls = items = 0.0
    for family in text_string_to_metric_families(prom.read_text()):
        if family.name != "model_batch_size":
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                le = float(sample.labels["le"])
                cumulative[le] = cumulative.get(le, 0.0) + sample.value
            elif sample.name.endswith("_count"):
                calls += sample.value
            elif sample.name.endswith("_sum"):
                items += sample.value
    if not calls:
        return None

    def upto(size: float) -> float:  # calls of at most ``size`` items (a bucket bound per band end)
        return cumulative.get(float(size), calls) if size != math.inf else calls

    shares = {f"{lo}" if lo == hi else (f"{lo}-{hi}" if hi != math.inf else f">{lo - 1}"):
              (upto(hi) - (upto(lo - 1) if lo > 1 else 0.0)) / calls for lo, hi in BATCH_BANDS}  # fmt: skip
    return {"calls": int(calls), "items": int(items), "mean": items / calls, "shares": shares}
