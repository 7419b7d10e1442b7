"""The statistics behind a capacity figure: a probe's verdict and the capacity's interval.

A probe's verdict is three-valued. It *passes* when MLPerf LoadGen's own early-stopping estimate
says, with 99% confidence, that the true p99 is under the bound (LoadGen's Server-scenario test:
with t queries over the bound, at least h(t) queries must have run); it *fails* when the mirror
test says, with the same confidence, that the true p99 is over the bound, when a query failed, or
when latency grows within the probe (a queue building); otherwise it is *unsure*.

The capacity is where the p99 crosses the bound. The only thing assumed of the chain is that its p99
does not fall as the offered load grows: the probes' log p99 are made non-decreasing in load by
isotonic regression (pool adjacent violators), and the capacity is where that curve crosses the bound,
interpolated between the two probes around it. No line or queueing model is imposed, so a sharp knee
(a chain bound by CPU goes from 80 ms to seconds within 15% more load) and probes far past it do not
pull the estimate. Its 95% interval is a percentile bootstrap over the probes: resampling whole probes
carries both the sampling noise of each p99 and the drift of a shared machine between probes. Where the
curve jumps from a steady p99 to a collapse between two loads, the probes leave the crossing open across
that gap, and each resample's draw spreads over it: an interpolation towards a collapse's placeholder
p99 would put the crossing next to the last steady probe in every resample, and an interval that narrow
held a chain's known capacity in 31 of 100 simulated searches (``tests/benchmark/test_stats.py``).
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass

PERCENTILE = 0.99  # the bound is on the p99, as in MLPerf's Server scenario
CONFIDENCE = 0.99  # LoadGen's early-stopping confidence; the mirror test uses the same
BOOTSTRAP_RESAMPLES = 2000
TAIL_SHARE = 0.02  # a probe keeps its latencies from the 97th percentile up, for resampling its p99


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed exactly in log space.

    One tail sum is all the lab needs; SciPy would bring 40 MB for it.
    """
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
             for i in range(k, n + 1)]  # fmt: skip
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def confidently_over(over: int, n: int, percentile: float = PERCENTILE, confidence: float = CONFIDENCE) -> bool:
    """Whether ``over`` of ``n`` queries over the bound shows, with ``confidence``, a percentile over it.

    The mirror of LoadGen's early stopping: were the true fraction over the bound only 1 - percentile,
    seeing this many or more would happen with probability under 1 - confidence.
    """
    return n > 0 and binomial_sf(over, n, 1 - percentile) < 1 - confidence


def quantile_interval(values: list[float], q: float = PERCENTILE, level: float = 0.95) -> tuple[float, float]:
    """Distribution-free interval of the ``q`` quantile: order statistics at binomial ranks.

    Returns (low, high); ``inf`` for high when the sample is too small to bound the quantile above.
    """
    xs = sorted(values)
    n = len(xs)
    if n == 0:
        return math.nan, math.nan
    z = statistics.NormalDist().inv_cdf(0.5 + level / 2)
    sd = math.sqrt(n * q * (1 - q))
    lo = math.floor(n * q - z * sd)
    hi = math.ceil(n * q + z * sd)
    return xs[max(lo, 0)], xs[hi] if hi < n else math.inf


def percentile(values: list[float], q: float = PERCENTILE) -> float:
    """The ``q`` quantile as LoadGen reports it: the value at rank floor(n q) of the sorted sample."""
    xs = sorted(values)
    return xs[min(int(len(xs) * q), len(xs) - 1)] if xs else math.nan


def queue_building(times_s: list[float], latencies_ms: list[float]) -> bool:
    """Whether latency grows within a probe: a queue building up, which no p99 of a short probe shows.

    The median of the last third of the queries (by send time) is compared with the first third's:
    a queue building makes it both 1.5x the first third's median and above its p90 (so ordinary
    bursts of a steady chain, which move the median less than the spread, do not count).
    """
    pairs = sorted(zip(times_s, latencies_ms, strict=True))
    third = len(pairs) // 3
    if third < 10:
        return False  # too few queries to see a trend
    first = [lat for _, lat in pairs[:third]]
    last = [lat for _, lat in pairs[-third:]]
    m_first, m_last = statistics.median(first), statistics.median(last)
    return m_last > 1.5 * m_first and m_last > statistics.quantiles(first, n=10)[-1]


@dataclass(frozen=True)
class Point:
    """One probe as the capacity fit sees it."""

    qps: float
    p99_ms: float  # inf for a probe with a queue building or failed queries
    queries: int = 0
    tail: tuple[float, ...] = ()  # its slowest latencies, sorted: ranks ``queries - len(tail)`` and up

    @classmethod
    def of(cls, qps: float, latencies_ms: list[float], overloaded: bool = False) -> Point:
        """A probe from its per-query latencies (inf for a failed query); ``overloaded``: no steady p99."""
        xs = sorted(latencies_ms)
        if overloaded or not xs:
            return cls(qps, math.inf, len(xs))
        keep = max(1, len(xs) - int(len(xs) * (PERCENTILE - TAIL_SHARE)))
        return cls(qps, percentile(xs), len(xs), tuple(xs[-keep:]))

    def resampled(self, rng: random.Random) -> Point:
        """The same probe with its p99 drawn again from its own sampling distribution: the rank of the
        p99 of n queries is Binomial(n, 0.99) (normal approximation), read from the probe's tail."""
        if not self.tail:
            return self
        n = self.queries
        rank = round(rng.gauss(n * PERCENTILE, math.sqrt(n * PERCENTILE * (1 - PERCENTILE))))
        index = min(max(rank - (n - len(self.tail)), 0), len(self.tail) - 1)
        return Point(self.qps, self.tail[index], n)


@dataclass(frozen=True)
class Estimate:
    qps: float | None  # where the fitted p99 meets the bound; None when the probes do not bracket it
    low: float | None  # 95% interval (percentile bootstrap over probes)
    high: float | None
    probes: int  # how many probes the fit used


OVERLOAD_FACTOR = 10.0  # a probe with no steady p99 (queue, failures) counts as this many times the bound


def isotonic(values: list[float], weights: list[float]) -> list[float]:
    """The non-decreasing sequence closest to ``values`` in weighted least squares (pool adjacent violators).

    Written out rather than taken from scikit-learn, which the lab does not otherwise need: it is ten lines.
    """
    blocks: list[list[float]] = []  # [mean, weight, count]
    for v, w in zip(values, weights, strict=True):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, n2 = blocks.pop()
            m1, w1, n1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return [m for m, _, n in blocks for _ in range(int(n))]


def crossing(points: list[Point], bound_ms: float) -> float | None:
    """Load where the probes' non-decreasing log p99 curve crosses the bound; None if they do not bracket it."""
    found = gap(points, bound_ms)
    return found and found[0]


def gap(points: list[Point], bound_ms: float) -> tuple[float, float, float] | None:
    """The crossing, and the loads between which the probes leave it open: (crossing, low, high).

    The crossing interpolates the fitted log p99 between the two loads around the bound. When the load above
    holds an overloaded probe (a queue building, failed queries: no steady p99, counted at ``OVERLOAD_FACTOR``
    times the bound), that interpolation rests on a placeholder: a chain that collapses past its knee says
    only that the crossing lies somewhere between the two loads, so (low, high) is that gap. Otherwise both
    p99s are measured and (low, high) is the crossing itself.
    """
    by_load: dict[float, list[float]] = {}
    for p in points:
        p99 = min(p.p99_ms, OVERLOAD_FACTOR * bound_ms)  # inf for an overloaded probe
        by_load.setdefault(p.qps, []).append(math.log(p99))
    loads = sorted(by_load)
    fitted = isotonic([statistics.fmean(by_load[q]) for q in loads], [len(by_load[q]) for q in loads])
    target = math.log(bound_ms)
    for i in range(1, len(loads)):
        if fitted[i - 1] <= target < fitted[i]:
            share = (target - fitted[i - 1]) / (fitted[i] - fitted[i - 1])
            at = loads[i - 1] + share * (loads[i] - loads[i - 1])
            collapsed = max(by_load[loads[i]]) >= math.log(OVERLOAD_FACTOR * bound_ms)
            return (at, loads[i - 1], loads[i]) if collapsed else (at, at, at)
    return None  # every probe on one side of the bound


def bootstrap(points: list[Point], bound_ms: float, seed: int = 0) -> list[float | None]:
    """One crossing for each of ``BOOTSTRAP_RESAMPLES`` resamples (None where degenerate).

    Two levels: probes are drawn with replacement (drift between probes), and each drawn probe's p99
    is drawn again from its own order statistics (the noise of a p99 resting on a few slow queries).
    Where a resample leaves the crossing open between two loads (``gap``), its draw is uniform between
    them: the probes say nothing of where in that gap it lies.
    """
    rng = random.Random(seed)  # fixed, so a report rebuilt from the same probes gives the same interval
    draws: list[float | None] = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        found = gap([p.resampled(rng) for p in rng.choices(points, k=len(points))], bound_ms)
        draws.append(rng.uniform(found[1], found[2]) if found else None)
    return draws


def central_95(samples: list[float | None]) -> tuple[float, float] | None:
    """The central 95% of ``samples``; None when over half are degenerate (no honest interval)."""
    kept = [s for s in samples if s is not None]
    if len(kept) < len(samples) / 2:
        return None
    cuts = statistics.quantiles(kept, n=40)  # 2.5% steps: the first and last cut bound the central 95%
    return cuts[0], cuts[-1]


def estimate(points: list[Point], bound_ms: float, seed: int = 0) -> Estimate:
    """Capacity at the bound and its 95% interval, from the probes in ``points``."""
    qps = crossing(points, bound_ms)
    interval = central_95(bootstrap(points, bound_ms, seed)) if qps is not None else None
    if interval:  # the percentiles of draws spread over a gap can leave out a crossing near its edge
        interval = min(interval[0], qps), max(interval[1], qps)
    return Estimate(qps, *(interval or (None, None)), len(points))


def ratio(a: list[float | None], b: list[float | None]) -> tuple[float, float] | None:
    """95% interval of a / b from two independent bootstraps, paired draw by draw."""
    return central_95([x / y if x is not None and y else None for x, y in zip(a, b, strict=True)])
