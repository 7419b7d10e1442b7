"""Capacity at p99 <= bound, as an estimate with a 95% interval, inside a time budget per chain.

Two phases. The bracket grows the target QPS by half each probe until one is over the bound (its
p99, a failed query, or a queue building). Then rounds of longer probes at loads around the current
estimate, in shuffled order so the machine's drift hits every load alike, each round refitting the
estimate and its interval (``stats``), until the interval is tight or the budget is spent: the time
goes where the answer is uncertain (the idea of perf_analyzer's stability windows).

Each probe is a separate process (``benchmark.loadgen.probe``) in its own folder of the run.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import statistics
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import psutil

from api_common.contract import SAMPLE
from benchmark import resources
from benchmark.loadgen import stats
from benchmark.rundir import write_json
from lab import processes

# MLPerf Inference's own Server-scenario minimums, which a lab run on a laptop does not meet.
MLPERF_MIN_DURATION_S = 600
MLPERF_MIN_QUERIES = 270_336
GROWTH = 1.5  # the bracket's step up: fine enough that the first probe over the bound is near it
GRID = (0.85, 0.95, 1.05, 1.15)  # one round of refinement, as factors of the current estimate
REFINE_LENGTH = 2.0  # refinement probes run this many times the bracket's duration
WINDOW = (0.7, 1.4)  # probes the fit uses: within these factors of the estimate
TIGHT = 0.05  # stop refining once the interval's half-width is this fraction of the estimate
FAILED_MS = 1e9  # a failed query's latency in a probe's tail: never answered within any bound (JSON has no inf)
PROBE_OVERHEAD_S = 3.0  # a probe's start, LoadGen's drain and the settle before it, beyond its duration


@dataclass
class Probe:
    target_qps: float
    passed: bool  # the point verdict: p99 under the bound, no failed query, no queue building
    p99_ms: float | None
    p50_ms: float | None
    completed_qps: float | None
    errors: int
    loadgen_valid: str | None
    client_cpu_pct: float | None
    folder: str
    duration_s: float = 0.0
    queries: int = 0
    over: int = 0  # queries over the bound or failed
    p99_low_ms: float | None = None  # 95% order-statistic interval of the p99
    p99_high_ms: float | None = None
    queue_building: bool = False
    early_stopping: str | None = None  # LoadGen: "Yes" when 99% confident the p99 is under the bound
    verdict: str = "unsure"  # "pass" / "fail" with 99% confidence, else "unsure"
    phase: str = "bracket"  # "bracket" or "refine"
    tail_ms: list[float] = field(default_factory=list)  # slowest latencies, sorted (FAILED_MS for a failure)
    # The whole machine during the probe (resources.machine_shares, resources.SpeedSampler): a chain bound by
    # CPU loses capacity to what other tenants of a shared machine take, which no repeat of ours controls.
    machine_busy_pct: float | None = None
    machine_steal_pct: float | None = None
    speed_ms: float | None = None  # resources.speed_unit_ms, median over the probe: higher is a slower machine
    started_at: float | None = None  # Unix time: when it ran, to read the probes of interleaved searches in order

    @property
    def point(self) -> stats.Point:
        if self.errors > 0 or self.queue_building or self.p99_ms is None:
            return stats.Point(self.target_qps, math.inf, self.queries)
        return stats.Point(self.target_qps, self.p99_ms, self.queries, tuple(self.tail_ms))


@dataclass
class Capacity:
    qps: float  # the estimate; 0 when the probes never bracketed the bound
    bound_ms: float
    probes: list[Probe]
    client_saturated: bool  # some probe's client passed 90% of a core: it may have measured the client
    low: float | None = None  # 95% interval
    high: float | None = None
    budget_s: float | None = None
    seconds: float | None = None
    around: float | None = None  # the fit used the probes within WINDOW of this load

    def resamples(self, seed: int = 0) -> list[float | None]:
        """The bootstrap behind the interval, recomputed from the saved probes (for ratios: give the two
        sides different seeds, or two searches with as many probes would draw the same indices)."""
        return stats.bootstrap(_window(self.probes, self.around, self.bound_ms), self.bound_ms, seed)

    def ratio_to(self, other: Capacity | None) -> dict[str, float | None] | None:
        """``{"ratio", "low", "high"}``: this capacity over ``other``'s, with the 95% interval of the two
        bootstraps paired draw by draw (independent seeds); None unless both have a capacity."""
        if not (self.qps and other is not None and other.qps):
            return None
        low, high = stats.ratio(self.resamples(seed=1), other.resamples(seed=2)) or (None, None)
        return {"ratio": self.qps / other.qps, "low": low, "high": high}

    def machine(self, name: str) -> float | None:
        """The median over the probes of one of their machine readings (``machine_steal_pct``, ``speed_ms``)."""
        values = [getattr(p, name) for p in self.probes if getattr(p, name) is not None]
        return statistics.median(values) if values else None

    def text(self) -> str:
        """``95 QPS (88-101)``: the estimate and its interval."""
        if not self.qps:
            return "-"
        span = f" ({self.low:.0f}-{self.high:.0f})" if self.low is not None else " (no interval)"
        return f"{self.qps:.0f} QPS{span}"


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


def probe(
    url: str, qps: float, duration_s: float, bound_ms: float, entities: int, folder: Path, phase: str = "bracket",
    cpus: set[int] | None = None,
) -> Probe:  # fmt: skip
    """Run one probe in a child process (own process group, bounded in time)."""
    min_queries = max(64, int(qps * duration_s))
    cmd = [
        sys.executable, "-m", "benchmark.loadgen.probe", "--url", url, "--qps", f"{qps:.3f}",
        "--duration-s", str(duration_s), "--min-queries", str(min_queries), "--bound-ms", str(bound_ms),
        "--entities", str(entities), "--outdir", str(folder),
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


def settle(url: str, bound_ms: float, limit_s: float = 20.0) -> float:
    """Wait until a single request is answered within the bound again; returns the seconds waited.

    A probe past capacity leaves work queued in the servers (a CPU-bound model keeps computing calls
    whose client gave up); the next probe must start from an idle chain, not inherit that backlog.
    """
    import httpx

    t0 = time.monotonic()
    body = {"entity_id": "0", "features": SAMPLE}
    with httpx.Client(timeout=10.0) as client:
        while time.monotonic() - t0 < limit_s:
            try:
                started = time.perf_counter()
                ok = client.post(url, json=body).status_code == 200
                if ok and (time.perf_counter() - started) * 1000 < bound_ms:
                    return time.monotonic() - t0
            except httpx.HTTPError:
                pass
            time.sleep(1.0)
    return time.monotonic() - t0


def _window(probes: list[Probe], around: float | None, bound_ms: float) -> list[stats.Point]:
    """The probes the fit uses: those within ``WINDOW`` of ``around`` (all when it is None), so that probes
    far from the boundary do not pull it. When those do not bracket the bound but the probes do (every probe
    in the window on one side of it, as when the window sits above the knee), the window takes in the nearest
    probe under the bound below it and the nearest over it above."""
    points = [p.point for p in probes]
    if around is None:
        return points
    lo, hi = WINDOW[0] * around, WINDOW[1] * around
    inside = [q for q in points if lo <= q.qps <= hi]
    if stats.crossing(inside, bound_ms) is not None:
        return inside
    under = [q for q in points if q.qps < lo and q.p99_ms <= bound_ms]
    over = [q for q in points if q.qps > hi and q.p99_ms > bound_ms]
    return (
        ([max(under, key=lambda q: q.qps)] if under else [])
        + inside
        + ([min(over, key=lambda q: q.qps)] if over else [])
    )


def fit(probes: list[Probe], bound_ms: float, around: float | None) -> stats.Estimate:
    """The estimate from the probes of the window around ``around`` (see ``_window``)."""
    return stats.estimate(_window(probes, around, bound_ms), bound_ms)


class Search:
    """One chain's capacity search, one probe per ``step``, so that several can be interleaved.

    The budget counts this search's own probes only: interleaved with others, its wall clock is shared.
    """

    def __init__(
        self, url: str, bound_ms: float, duration_s: float, out: Path, budget_s: float = 120.0,
        start_qps: float = 40.0, entities: int = 10000, progress=print, label: str = "",
        client_cpus: set[int] | None = None,
    ):  # fmt: skip
        self.url, self.bound_ms, self.duration_s, self.out = url, bound_ms, duration_s, out
        self.budget_s, self.entities, self.progress, self.label = budget_s, entities, progress, label
        self.client_cpus = client_cpus  # LoadGen's cores, when the chain is pinned to the others
        self.probes: list[Probe] = []
        self.spent = 0.0
        self.rng = random.Random(0)
        self.next_qps = max(start_qps, 1.0)
        self.under: Probe | None = None
        self.doubted = False  # the last bracket probe failed, and runs again at the same load
        self.over: Probe | None = None
        self.guess: float | None = None
        self.bracketed = False
        self.planned: list[float] = []  # loads left in this refinement round
        self.centre: float | None = None  # the load the last refinement round that ran was centred on
        self.rounds = 0
        self.finished = False

    def left(self) -> float:
        return self.budget_s - self.spent

    def _plan(self) -> tuple[float, float, str] | None:
        """The next probe (load, seconds, phase), or None when the search is over."""
        if not self.bracketed:
            growing = self.under is None or self.over is None
            if growing and self.left() > self.duration_s + PROBE_OVERHEAD_S and self.next_qps >= 0.5:
                return self.next_qps, self.duration_s, "bracket"
            self.bracketed = True
            est = fit([self.under, self.over], self.bound_ms, None) if self.under and self.over else None
            self.guess = est.qps if est and est.qps else None
            if self.guess is None and self.probes:  # no bracket within the budget: refine around what ran
                self.guess = (self.under or self.over or self.probes[-1]).target_qps
        refine_s = self.duration_s * REFINE_LENGTH
        if not self.planned:
            if not self.guess or self.left() <= len(GRID) * (refine_s + PROBE_OVERHEAD_S):
                return None
            if self.rounds >= 2:
                est = fit(self.probes, self.bound_ms, self.guess)
                if est.low is not None and (est.high - est.low) / 2 <= TIGHT * est.qps:
                    return None  # tight enough: the rest of the budget is not needed
            self.planned = [self.guess * f for f in self.rng.sample(GRID, len(GRID))]
            self.centre = self.guess
        return self.planned[0], refine_s, "refine"

    def step(self) -> bool:
        """Run the next probe; False when the search is over (its result is then written)."""
        plan = None if self.finished else self._plan()
        if plan is None:
            self.finished = True
            return False
        qps, seconds, phase = plan
        t0 = time.monotonic()
        settle(self.url, self.bound_ms)
        folder = self.out / f"probe-{len(self.probes) + 1:02d}-{qps:.0f}qps"
        p = probe(self.url, qps, seconds, self.bound_ms, self.entities, folder, phase, self.client_cpus)
        self.spent += time.monotonic() - t0
        self.probes.append(p)
        p99 = f"{p.p99_ms:.0f} ms" if p.p99_ms is not None else "-"
        queue = ", queue building" if p.queue_building else ""
        self.progress(f"    loadgen {self.label}{qps:.0f} QPS ({phase} {seconds:g} s): p99 {p99}, {p.errors} errors"
                      f"{queue}: {p.verdict}")  # fmt: skip
        if phase == "bracket":
            if p.passed:
                self.under, self.next_qps, self.doubted = p, qps * GROWTH, False
            elif not self.doubted:
                # A bracket probe that fails runs once more before it closes the bracket: a stall of a shared
                # machine (seconds of every answer late, then recovery) fails a probe far under the knee, and a
                # bracket closed there puts every refinement round too low to see it.
                self.doubted = True
            else:
                self.over, self.next_qps, self.doubted = p, qps / 2, False
        else:
            self.planned.pop(0)
            if not self.planned:  # a round is complete: refit, and centre the next round on the estimate
                self.rounds += 1
                est = fit(self.probes, self.bound_ms, self.guess)
                last = self.probes[-len(GRID) :]
                if all(p.passed for p in last):
                    # The whole round under the bound: look higher, even when the fit crosses the bound lower
                    # down (earlier probes, a stall among them, can put it there). The next
                    # round's lowest load is this round's highest: a step of 1.6x put a run's next round at
                    # 232-254 QPS, where every probe collapsed, above failures it had already seen at 159-179.
                    self.guess *= GRID[-1] / GRID[0]
                elif est.qps:
                    self.guess = est.qps
                elif not any(p.passed for p in last):  # the whole round over the bound: look lower, as far
                    self.guess *= GRID[0] / GRID[-1]
        return True

    def result(self) -> Capacity:
        """The estimate from every probe so far, written to ``capacity.json``.

        Its window is centred where the last round ran, not on the next round's load: a round that passed
        whole moves that load up, and when the budget ends there, a window around a load no probe ran at
        leaves out the failures under it (a run's async chain, with a step of 1.6x then: 163 QPS, when probes
        at 146 and 161 had failed).
        """
        around = self.centre or self.guess
        final = fit(self.probes, self.bound_ms, around) if around else stats.Estimate(None, None, None, 0)
        saturated = any((p.client_cpu_pct or 0) > 90 for p in self.probes)
        result = Capacity(final.qps or 0.0, self.bound_ms, self.probes, saturated, final.low, final.high,
                          self.budget_s, round(self.spent, 1), around)  # fmt: skip
        write_json(self.out / "capacity.json", asdict(result))
        return result


def find(
    url: str, bound_ms: float, duration_s: float, out: Path, budget_s: float = 120.0, start_qps: float = 40.0,
    entities: int = 10000, progress=print, client_cpus: set[int] | None = None,
) -> Capacity:  # fmt: skip
    """Bracket the bound, then refine around it in shuffled rounds until tight or out of budget."""
    search = Search(url, bound_ms, duration_s, out, budget_s, start_qps, entities, progress, "", client_cpus)
    while search.step():
        pass
    return search.result()


def interleaved(searches: dict[str, Search]) -> dict[str, Capacity]:
    """Run several searches a probe at a time, in rounds of shuffled order, so the drift of the machine
    hits them all alike; returns each one's result."""
    rng = random.Random(0)
    active = list(searches)
    while active:
        for name in rng.sample(active, len(active)):
            if not searches[name].step():
                active.remove(name)
    return {name: s.result() for name, s in searches.items()}


def load(out: Path) -> Capacity | None:
    """A search's result from its folder, the estimate made again from its saved probes (as the ratios'
    bootstraps are), so that a report rebuilt after a change of the fit is consistent in itself."""
    try:
        data = json.loads((out / "capacity.json").read_text())
    except (OSError, ValueError):
        return None
    known = {f.name for f in fields(Probe)}
    data["probes"] = [Probe(**{k: v for k, v in p.items() if k in known}) for p in data["probes"]]
    cap = Capacity(**{k: v for k, v in data.items() if k in {f.name for f in fields(Capacity)}})
    if cap.around is not None:
        est = fit(cap.probes, cap.bound_ms, cap.around)
        cap.qps, cap.low, cap.high = est.qps or 0.0, est.low, est.high
    return cap


def departures(duration_s: float, probes: list[Probe]) -> str:
    """How the capacity was estimated, and where the run departs from MLPerf's official minimums."""
    queries = max((p.queries or int(p.target_qps * duration_s) for p in probes), default=0)
    longest = max((p.duration_s or duration_s for p in probes), default=duration_s)
    return (
        f"Each probe ran {longest:g} s at most and about {queries} queries at most; MLPerf Inference requires at "
        f"least {MLPERF_MIN_DURATION_S} s and {MLPERF_MIN_QUERIES} queries per Server run, so no probe is an official "
        "result. A probe passes with 99% confidence when LoadGen's early-stopping estimate says so, fails with 99% "
        "confidence when the mirror test, a failed query or a queue building (latency rising within the probe) says "
        "so, and is unsure otherwise. The capacity is the load a probe is as likely to pass as to fail at: there a "
        "logistic curve, fitted to each probe's chance of being over the bound (certain for a collapse), is 0.5; its "
        "95% interval is a percentile bootstrap over the probes."
    )
