"""The capacity search's records: a probe, and a search's estimate with its interval, as saved and read back.

A saved search (``capacity.json``) says its format's version; :func:`load` reads every version written
since the lab began (the first had none) and makes the estimate again from the saved probes, as the ratios'
bootstraps do, so a report rebuilt after a change of the fit is consistent in itself.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from benchmark.loadgen import stats
from benchmark.rundir import write_json

FORMAT = 3  # 3: each probe's round; 2: the version is written; 1 (none written): some fields older or fewer
WINDOW = (0.7, 1.4)  # probes the fit uses: within these factors of the estimate
FAILED_MS = 1e9  # a failed query's latency in a probe's tail: never answered within any bound (JSON has no inf)


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
    round: int = 0  # the round it ran in (search.interleave); 0: the bracket, and every probe of a format-2 file
    # The CPU seconds the server under test used during the probe (all its processes, from /proc), when the search
    # was given a meter of it (``lab advise``): CPU per request is this over ``queries``.
    server_cpu_s: float | None = None

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
    rounds: int = 0  # the rounds its search completed after the bracket

    def cpu_ms_per_request(self) -> float | None:
        """The server's CPU milliseconds per request, over the probes that passed (under its capacity: past it,
        refused and late queries cost CPU too) and were metered; None when none was."""
        metered = [p for p in self.probes if p.passed and p.server_cpu_s is not None and p.queries]
        if not metered:
            return None
        return 1000 * sum(p.server_cpu_s for p in metered) / sum(p.queries for p in metered)

    def by_round(self) -> dict[int, list[stats.Point]]:
        """The probes the fit uses (``_window``), by the round they ran in."""
        return _by_round(_window(self.probes, self.around, self.bound_ms))

    def resamples(self, picks: list[list[int]], seed: int = 1) -> list[float | None]:
        """The two-level bootstrap behind the interval, recomputed from the saved probes: the rounds of each draw
        are ``picks`` (``stats.round_picks``; the same for every capacity that is compared, so that ratios are
        paired by round), the probes within them drawn with ``seed`` (different for the two sides of a ratio,
        or two searches with as many probes would draw the same indices)."""
        return stats.two_level_bootstrap(self.by_round(), picks, self.bound_ms, seed)

    def ratio_to(
        self, other: Capacity | None, resamples: int = stats.BOOTSTRAP_RESAMPLES
    ) -> dict[str, float | str | None] | None:
        """This capacity over ``other``'s, measured in the same rounds: ``{"ratio", "low", "high"}`` (95%),
        and the ``verdict`` (``stats.Decision``: "higher", "lower", "equivalent" or "unresolved"), and the
        ``rounds`` it was paired over; None unless both have a capacity."""
        if not (self.qps and other is not None and other.qps):
            return None
        rounds = sorted(set(self.by_round()) | set(other.by_round()))
        picks = stats.round_picks(rounds, resamples=resamples)
        mine, theirs = self.resamples(picks, seed=1), other.resamples(picks, seed=2)
        draws = [x / y if x is not None and y else None for x, y in zip(mine, theirs, strict=True)]
        decision = stats.Decision.of(self.qps / other.qps, draws)
        theirs_by_round = other.per_round()
        per_round = [a / b for r, a in self.per_round().items() if a and (b := theirs_by_round.get(r))]
        return asdict(decision) | {"rounds": len([r for r in rounds if r]), "round_spread": stats.spread(per_round)}

    def per_round(self) -> dict[int, float]:
        """The rounds whose own probes cross the bound (the bracket left out), and where they cross."""
        return {r["round"]: r["qps"] for r in self.rounds_found() if not r["side"]}

    def round_machine(self, name: str) -> dict[int, float | None]:
        """Each round's median of one of its probes' machine readings (``machine_steal_pct``, ``speed_ms``)."""
        values: dict[int, list[float]] = {}
        for p in self.probes:
            if p.round and getattr(p, name) is not None:
                values.setdefault(p.round, []).append(getattr(p, name))
        return {r: statistics.median(v) for r, v in sorted(values.items())}

    def rounds_found(self) -> list[dict[str, float | str | None]]:
        """Each round's figure as its probes say it: ``{"round", "qps", "side"}``, the side "" for a crossing, ">="
        at the highest load when every probe passed, "<=" at the lowest when every one failed; and the machine in
        that round (``steal_pct``, ``speed_ms``: the medians over its probes)."""
        out: list[dict[str, float | str | None]] = []
        steal, speed = self.round_machine("machine_steal_pct"), self.round_machine("speed_ms")
        for r, points in sorted(_by_round([p for p in self.probes if p.round]).items()):
            qps = stats.crossing(points, self.bound_ms)
            under = all(stats.over_share(p, self.bound_ms) < 0.5 for p in points)
            side, qps = ("", qps) if qps else (">=", max(p.qps for p in points)) if under else \
                ("<=", min(p.qps for p in points))  # fmt: skip
            out.append({"round": r, "qps": qps, "side": side, "steal_pct": steal.get(r), "speed_ms": speed.get(r)})
        return out

    def round_spread(self) -> float | None:
        """The spread of the rounds' own figures (standard deviation over mean); None under two."""
        return stats.spread([q for q in self.per_round().values() if q])

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


def _window(probes: list[Probe], around: float | None, bound_ms: float) -> list[Probe]:
    """The probes the fit uses: those within ``WINDOW`` of ``around`` (all when it is None), so that probes
    far from the boundary do not pull it. When those do not bracket the bound but the probes do (every probe
    in the window on one side of it, as when the window sits above the knee), the window takes in the nearest
    probe under the bound below it and the nearest over it above."""
    if around is None:
        return list(probes)
    lo, hi = WINDOW[0] * around, WINDOW[1] * around
    inside = [p for p in probes if lo <= p.target_qps <= hi]
    if stats.crossing([p.point for p in inside], bound_ms) is not None:
        return inside
    under = [p for p in probes if p.target_qps < lo and p.point.p99_ms <= bound_ms]
    over = [p for p in probes if p.target_qps > hi and p.point.p99_ms > bound_ms]
    return (
        ([max(under, key=lambda p: p.target_qps)] if under else [])
        + inside
        + ([min(over, key=lambda p: p.target_qps)] if over else [])
    )


def _by_round(probes: list[Probe]) -> dict[int, list[stats.Point]]:
    out: dict[int, list[stats.Point]] = {}
    for probe in probes:
        out.setdefault(probe.round, []).append(probe.point)
    return out


def fit(probes: list[Probe], bound_ms: float, around: float | None, interval: bool = True) -> stats.Estimate:
    """The estimate from the probes of the window around ``around`` (see ``_window``), its interval over the
    rounds they ran in (``stats.estimate_rounds``; none with ``interval`` False)."""
    return stats.estimate_rounds(_by_round(_window(probes, around, bound_ms)), bound_ms, interval=interval)


def save(path: Path, cap: Capacity) -> None:
    write_json(path, {"format": FORMAT, **asdict(cap)})


def _from_format_1(data: dict) -> dict:
    """Format 1 had no version, and its earliest files hold fields the lab has since dropped: they are left out."""
    known = {f.name for f in fields(Probe)}
    probes = [{k: v for k, v in p.items() if k in known} for p in data["probes"]]
    return {k: v for k, v in data.items() if k in {f.name for f in fields(Capacity)}} | {"probes": probes}


def load(out: Path) -> Capacity | None:
    """A search's result from its folder, the estimate made again from its saved probes (as the ratios'
    bootstraps are), so that a report rebuilt after a change of the fit is consistent in itself."""
    try:
        data = json.loads((out / "capacity.json").read_text())
    except (OSError, ValueError):
        return None
    version = data.pop("format", 1)
    if version > FORMAT:
        raise ValueError(f"{out / 'capacity.json'} is of format {version}; this lab reads up to {FORMAT}")
    if version == 1:
        data = _from_format_1(data)
    data["probes"] = [Probe(**p) for p in data["probes"]]
    cap = Capacity(**data)
    if cap.around is not None:
        est = fit(cap.probes, cap.bound_ms, cap.around)
        cap.qps, cap.low, cap.high = est.qps or 0.0, est.low, est.high
    return cap
