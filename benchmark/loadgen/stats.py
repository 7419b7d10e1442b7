"""The statistics behind a capacity figure: a probe's verdict and the capacity's interval.

A probe's verdict is three-valued. It *passes* when MLPerf LoadGen's own early-stopping estimate
says, with 99% confidence, that the true p99 is under the bound (LoadGen's Server-scenario test:
with t queries over the bound, at least h(t) queries must have run); it *fails* when the mirror
test says, with the same confidence, that the true p99 is over the bound, when a query failed, or
when latency grows within the probe (a queue building); otherwise it is *unsure*.

The capacity is the load a probe is as likely to pass as to fail at. Each probe gives its chance of being
over the bound (``over_share``: certain for a collapse, else the posterior probability, from its count of
queries over the bound, that more than 1% are); a logistic curve of that chance against the load is fitted
by maximum likelihood, and the capacity is where it is 0.5. A chain bound by CPU does not degrade past its
knee, it collapses (a queue, failed queries), and whether a probe near the knee collapses is a coin toss:
a curve of the p99 itself has no value for a collapse, and the isotonic fit that counted one at 10x the
bound sat where about one probe in seven collapses and moved with the few a run happened to see. Its 95%
interval is a two-level percentile bootstrap (the rounds, then the probes within them): resampling carries the
drift of a shared machine, and each probe's own sampling noise is already in its chance of being over. Ratios
pair their two sides' draws by round, and a ratio is called higher, lower, equivalent or unresolved against asv's
factor (``Decision``).
"""

from __future__ import annotations

import functools
import math
import random
import statistics
from dataclasses import dataclass

PERCENTILE = 0.99  # the bound is on the p99, as in MLPerf's Server scenario
CONFIDENCE = 0.99  # LoadGen's early-stopping confidence; the mirror test uses the same
BOOTSTRAP_RESAMPLES = 2000
TAIL_SHARE = 0.02  # a probe keeps its latencies from the 97th percentile up: enough to count those over the bound


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


@dataclass(frozen=True)
class Estimate:
    qps: float | None  # where the fitted p99 meets the bound; None when the probes do not bracket it
    low: float | None  # 95% interval (percentile bootstrap over probes)
    high: float | None
    probes: int  # how many probes the fit used


# A light penalty on the logistic slope (in relative load), so probes that never mix give a finite fit. It is a
# prior on how sharp the knee is: 0.01 held the known capacity of the simulated queue in 92 of 100 searches,
# 0.001 (steeper fits, narrower intervals) in 72 (tests/benchmark/test_stats.py).
RIDGE = 0.01


def over_share(point: Point, bound_ms: float) -> float:
    """How likely it is that the probe's true p99 is over the bound: 1 for an overloaded probe (a queue
    building, failed queries); else, with a uniform prior on the share of queries over the bound, the
    posterior probability that this share is over 1%. A probe far under the bound gives about 0, one whose
    p99 sits on the bound about 0.5: the verdict keeps what its own sampling noise leaves open."""
    if math.isinf(point.p99_ms):
        return 1.0
    if not point.tail:
        return float(point.p99_ms > bound_ms)
    over, n = sum(1 for t in point.tail if t > bound_ms), point.queries
    # share ~ Beta(over + 1, n - over + 1); P(share > q) = P(Binomial(n + 1, q) <= over)
    return 1.0 - binomial_sf(over + 1, n + 1, 1 - PERCENTILE)


def logistic_midpoint(loads: list[float], shares: list[float]) -> float | None:
    """The load where a logistic curve of ``shares`` against ``loads`` is 0.5 (maximum likelihood, Newton's
    method, ``RIDGE`` on the slope), kept within the loads; None when the curve does not rise with load.

    Written out rather than taken from scikit-learn's ``LogisticRegression`` (which gives the same fit, see
    ``tests/benchmark/test_stats.py``): the interval refits it 2,000 times, 7 ms a fit there, well under 1 ms here.
    """
    scale = statistics.fmean(loads)
    xs = [x / scale for x in loads]
    a, b = 0.0, 1.0  # logit P(over) = a + b x
    for _ in range(100):
        ps = [1 / (1 + math.exp(-min(max(a + b * x, -30.0), 30.0))) for x in xs]
        ga = sum(y - p for y, p in zip(shares, ps, strict=True))
        gb = sum((y - p) * x for y, p, x in zip(shares, ps, xs, strict=True)) - RIDGE * b
        ws = [p * (1 - p) + 1e-12 for p in ps]
        haa = sum(ws)
        hab = sum(w * x for w, x in zip(ws, xs, strict=True))
        hbb = sum(w * x * x for w, x in zip(ws, xs, strict=True)) + RIDGE
        det = haa * hbb - hab * hab
        da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        a, b = a + da, b + db
        if max(abs(da), abs(db)) < 1e-9:
            break
    if b <= 0:
        return None
    # The penalty on the slope can move the 0.5 past the last load of the side with fewer probes (one pass under
    # four failures); the probes say no more than that it is at that load or beyond.
    return min(max(-a / b * scale, min(loads)), max(loads))


def crossing(points: list[Point], bound_ms: float) -> float | None:
    """The load a probe is as likely to pass as to fail at: the 0.5 of a logistic curve fitted to the probes'
    ``over_share``; None when the probes do not bracket it (all more likely under the bound, or all over)."""
    if not points:
        return None
    shares = [over_share(p, bound_ms) for p in points]
    if max(shares) < 0.5 or min(shares) > 0.5:
        return None
    return logistic_midpoint([p.qps for p in points], shares)


def bootstrap(points: list[Point], bound_ms: float, seed: int = 0) -> list[float | None]:
    """One crossing for each of ``BOOTSTRAP_RESAMPLES`` resamples of the probes, drawn with replacement (None
    where a resample does not bracket the bound). Resampling whole probes carries the drift of a shared machine
    between probes; each probe's own sampling noise is already in its ``over_share``."""
    rng = random.Random(seed)  # fixed, so a report rebuilt from the same probes gives the same interval
    loads, shares = [p.qps for p in points], [over_share(p, bound_ms) for p in points]
    draws: list[float | None] = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        drawn = rng.choices(range(len(points)), k=len(points))
        ys = [shares[i] for i in drawn]
        draws.append(logistic_midpoint([loads[i] for i in drawn], ys) if max(ys) >= 0.5 >= min(ys) else None)
    return draws


def central(samples: list[float | None], level: float = 0.95) -> tuple[float, float] | None:
    """The central ``level`` of ``samples`` (0.95: from the 2.5th to the 97.5th percentile); None when over half are
    degenerate (no honest interval)."""
    kept = [s for s in samples if s is not None]
    if len(kept) < max(2, len(samples) / 2):
        return None
    cuts = statistics.quantiles(kept, n=round(2 / (1 - level)))  # 0.95: 40 cuts in 2.5% steps, the first and last
    return cuts[0], cuts[-1]


def estimate(points: list[Point], bound_ms: float, seed: int = 0) -> Estimate:
    """Capacity at the bound and its 95% interval, from the probes in ``points`` (of one round)."""
    return estimate_rounds({0: points}, bound_ms, seed)


@functools.cache
def queries_needed(over: int = 0, percentile: float = PERCENTILE, confidence: float = CONFIDENCE) -> int:
    """The fewest queries with which ``over`` of them over the bound still lets LoadGen's early stopping say,
    with ``confidence``, that the ``percentile`` is under it: the smallest n with P(Binomial(n, 1 - percentile)
    <= over) <= 1 - confidence (459 for a p99 at 99% with none over, 662 with one)."""
    q = 1 - percentile

    def cdf(n: int) -> float:  # P(X <= over), the few terms summed directly
        return sum(math.comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(over + 1))

    n = over + 1
    while cdf(n) > 1 - confidence:
        n += 1
    return n


# ---- Rounds: what a capacity run repeats, and what its ratios are paired by ----
#
# A run measures its chains (or variants) in R rounds, each chain's probes of a round run interleaved with every
# other chain's, in a shuffled order. A shared machine changes speed over minutes: within a round every chain sees
# the same machine, between rounds not. So a chain's figure keeps the spread between rounds in its interval
# (rounds resampled, then probes within each: a two-level bootstrap), and a ratio pairs the two chains' draws by
# round: both sides of one draw are fitted to the same rounds, so a drift that hits both cancels in the ratio and
# one that hits only one side (a chain bound by CPU beside one bound by its workers) widens it.

FACTOR = 1.1  # asv's default: a change under 10% is not called, however significant
# The interval a verdict reads: the paired 95% interval the report prints, so a reader can check the call.
DECISION_LEVEL = 0.95
VERDICTS = ("higher", "lower", "equivalent", "unresolved")
UNSTABLE_SPREAD = 0.10  # pyperf's warning: the spread between runs (here rounds) over 10% of the mean
PRECISION = 0.05  # the half-width of the ratio's 95% interval the lab aims at, as a fraction of the ratio


def round_picks(rounds: list[int], seed: int = 0, resamples: int = BOOTSTRAP_RESAMPLES) -> list[list[int]]:
    """The rounds each bootstrap draw takes, with replacement: the first level of the two-level bootstrap. Every
    capacity of a run is resampled with the same picks, so that any two of them are paired by round."""
    rng = random.Random(seed)
    return [rng.choices(rounds, k=len(rounds)) for _ in range(resamples)] if rounds else []


def two_level_bootstrap(by_round: dict[int, list[Point]], picks: list[list[int]], bound_ms: float,
                        seed: int = 1) -> list[float | None]:  # fmt: skip
    """One crossing per draw of ``picks``: each picked round's probes drawn again with replacement (the second
    level), pooled, and fitted; None where a draw does not bracket the bound. A round the chain has no probes in
    (its search ended early) adds none. Probes of one round only (a search saved before rounds, format 2 and
    earlier) are resampled as they always were (``bootstrap``), so an old run's report keeps its figures."""
    if len(by_round) <= 1:
        return bootstrap([p for pts in by_round.values() for p in pts], bound_ms, seed)
    rng = random.Random(seed)
    shares = {r: [(p.qps, over_share(p, bound_ms)) for p in pts] for r, pts in by_round.items()}
    draws: list[float | None] = []
    for picked in picks:
        loads, ys = [], []
        for r in picked:
            pts = shares.get(r, [])
            for i in rng.choices(range(len(pts)), k=len(pts)) if pts else ():
                loads.append(pts[i][0])
                ys.append(pts[i][1])
        draws.append(_censored_midpoint(loads, ys))
    return draws


def _censored_midpoint(loads: list[float], shares: list[float]) -> float | None:
    """The crossing of a draw, or where its probes put it when they do not bracket the bound: at their highest load
    or beyond when every one is likely under it, at their lowest or below when every one is over. Counting such a
    draw at that load, not leaving it out, keeps a round whose probes all passed (a fast stretch of the machine)
    in the interval, as far as its probes can say."""
    if not shares:
        return None
    if max(shares) < 0.5:
        return max(loads)
    if min(shares) > 0.5:
        return min(loads)
    return logistic_midpoint(loads, shares)


def estimate_rounds(by_round: dict[int, list[Point]], bound_ms: float, seed: int = 0, interval: bool = True
                    ) -> Estimate:  # fmt: skip
    """Capacity at the bound from the probes of every round, and its 95% interval from the two-level bootstrap
    (rounds, then probes within them): the spread between rounds, a shared machine's drift, is in it.
    ``interval``: False for the estimate alone (a search's next load)."""
    points = [p for pts in by_round.values() for p in pts]
    qps = crossing(points, bound_ms)
    if qps is None or not interval:
        return Estimate(qps, None, None, len(points))
    interval = central(two_level_bootstrap(by_round, round_picks(sorted(by_round)), bound_ms, seed))
    if interval:  # a percentile interval of a skewed bootstrap can, rarely, leave its own estimate out
        interval = min(interval[0], qps), max(interval[1], qps)
    return Estimate(qps, *(interval or (None, None)), len(points))


@dataclass(frozen=True)
class Decision:
    """A ratio's verdict, three-valued, from its paired interval against the factor's margin (1/FACTOR..FACTOR).

    *higher* or *lower*: the interval lies wholly beyond the margin (the ratio is over ``FACTOR`` or under its
    inverse, with the interval's confidence); *equivalent*: wholly inside it (two one-sided tests: neither side
    reaches the factor); *unresolved*: it straddles an edge of the margin, and more rounds would tell. The three
    definite calls are about disjoint sets of true ratios, so two runs whose intervals hold the truth never make
    two different definite calls: they can differ only between one definite call and "unresolved". asv's rule (beyond
    the factor and 1 outside the interval) did not have that property: a true ratio at 1.1x was called "higher" in
    one run and "no measurable difference" in the next (FINDINGS, the two back-to-back compares of 2026-12-03)."""

    ratio: float
    low: float | None  # the paired 95% interval, which the verdict reads
    high: float | None
    verdict: str  # one of VERDICTS

    @classmethod
    def of(cls, ratio: float, draws: list[float | None], factor: float = FACTOR) -> Decision:
        """From the point ratio and its paired draws."""
        interval = central(draws, DECISION_LEVEL)
        return cls(ratio, *(interval or (None, None)), decide(interval, factor))


def decide(interval: tuple[float, float] | None, factor: float = FACTOR) -> str:
    """The verdict of a ratio whose interval is ``interval`` (``Decision``); "unresolved" without one."""
    if interval is None:
        return "unresolved"
    low, high = interval
    if low >= factor:
        return "higher"
    if high <= 1 / factor:
        return "lower"
    if low > 1 / factor and high < factor:
        return "equivalent"
    return "unresolved"


def spread(values: list[float]) -> float | None:
    """The standard deviation of ``values`` as a fraction of their mean (None under two values)."""
    return statistics.stdev(values) / statistics.fmean(values) if len(values) >= 2 else None


def rounds_needed(relative_sd: float, precision: float = PRECISION) -> int:
    """How many rounds a 95% interval of half-width ``precision`` (a fraction) needs when one round's figure has
    the ``relative_sd`` between rounds: (1.96 sd / precision)^2, as pyperf says how many more runs to make."""
    return max(2, math.ceil((1.96 * relative_sd / precision) ** 2))
