"""A cost model of a chain's capacity at the p99 bound, from figures that need no capacity search: its single-request
latency, its CPU per request (every process of the chain, measured at a load below capacity: where the cores bind,
near it, as an event loop's CPU per request falls with its load), how many requests it holds at once, and the
machine's cores. It carries a ratio measured on this machine to one with more cores.

A request holds one of the chain's *slots* (a sync worker's thread) for its latency, and takes its CPU per request
from the machine's *cores*. Each is a queue of ``c`` servers: the slots, ``concurrency`` servers of service time the
latency (Little's law caps it at concurrency / latency); the cores, ``cores`` servers of service time the CPU per
request (capped at cores / CPU per request). The wait's quantile is exact at both ends of the service time's spread:
Erlang C's for an exponential service (M/M/c), Crommelin's for a constant one (M/D/c, ``md_wait_le``: the slots,
whose service is a request's near-constant latency), and between the two in proportion to the measured spread. A
request's p99 is taken as its latency plus the p99 of its wait; the capacity is the highest rate whose p99 stays
within the bound for every queue. (Until 2026-12-05 the constant end was Allen-Cunneen's, half of M/M/c's wait: on
one or two slots it waits too long: 187 ms against an exact 143 (simulated: 142) at M/D/1, 100 ms, 2 a second.)

Two more kinds of queue where a chain has them: each tier's worker processes
(a process runs on one core at a time, so a tier of ``p`` processes spends at most ``p`` cores, however many the
machine has: ``tiers``), and further slots a request visits (the model tier's sync workers, held for each model
call: ``more_slots``). A load generator on the same cores adds its own CPU per request to the cores' queue
(``client_cpu_ms``). Checked against measured capacity by ``lab costmodel`` (benchmark/costcheck.py; doc/FINDINGS.md).

Written here rather than taken from a library: Erlang C is a closed form of a few lines, and the maintained queueing
packages on PyPI (ciw, queueing-tool) simulate networks event by event, which is what the tests do to check it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

QUANTILE = 0.99
TOLERANCE_QPS = 1e-3  # the bisection's resolution
MD_STATES = 2_000  # the most states of an M/D/c queue solved for (a dense solve: 0.3 s at 2,000)


@dataclass(frozen=True)
class Costs:
    """What a chain costs a request, measured at a low load."""

    latency_ms: float  # a single request's time, unloaded (its p50)
    cpu_ms: float  # CPU per request, every process of the chain (both tiers)
    concurrency: int | None  # requests it holds at once (workers x threads); None: no bound of its own (async)
    # The spread of the latency, as its squared coefficient of variation (variance / mean**2) over single requests:
    # 0 for a constant time, 1 for an exponential one (M/M/c's own). The lab's chains wait on models of 40-50 ms:
    # near 0.
    latency_scv: float = 1.0
    cpu_scv: float = 1.0  # the same of the CPU per request (not measured per request: M/M/c's, which leans low)
    # Each tier's processes and its CPU per request of the chain (its share of ``cpu_ms``): a tier of p processes
    # spends at most p cores. Empty: no cap but the machine's.
    tiers: tuple[tuple[int, float], ...] = ()
    # Further slots a request holds on its way, as (servers, service ms, visits per request): the model tier's sync
    # workers, held for each model call.
    more_slots: tuple[tuple[int, float, float], ...] = ()
    client_cpu_ms: float = 0.0  # a load generator's CPU per request, when it shares the chain's cores


@dataclass(frozen=True)
class Prediction:
    qps: float
    bound_by: str  # "slots" (its concurrency: Little's law), "cores" (CPU), or "tier" (one tier's processes)
    slots_qps: float | None  # the capacity each queue alone would allow (None: no bound of its own)
    cores_qps: float


def erlang_c(servers: int, offered: float) -> float:
    """The probability that an arrival waits in an M/M/c queue of ``servers`` at ``offered`` load (arrival rate x
    service time, in servers); 1 at or past saturation. Summed term by term (a**k / k!), never a factorial."""
    if offered <= 0:
        return 0.0
    if offered >= servers:
        return 1.0
    term, below = 1.0, 0.0  # a**k / k!, from k = 0
    for k in range(servers):
        below += term
        term *= offered / (k + 1)
    top = term / (1 - offered / servers)  # a**c / c! / (1 - rho)
    return top / (below + top)


def mm_wait_quantile_ms(rate_qps: float, servers: int, service_ms: float, q: float = QUANTILE) -> float:
    """The ``q`` quantile of the wait in an M/M/c queue: P(W > t) = C * exp(-(c mu - lambda) t); inf past
    saturation."""
    mu = 1000.0 / service_ms  # per server, per second
    spare = servers * mu - rate_qps
    if spare <= 0:
        return math.inf
    waits = erlang_c(servers, rate_qps / mu)
    if waits <= 1 - q:
        return 0.0
    return 1000.0 * math.log(waits / (1 - q)) / spare


def _poisson_cdf(mean: float, upto: int) -> np.ndarray:
    """P(Poisson(mean) <= k) for k = 0 .. upto (its terms from their logarithms, summed)."""
    if mean <= 0:
        return np.ones(upto + 1)
    logs = np.concatenate(([0.0], np.cumsum(np.log(mean / np.arange(1, upto + 1))))) - mean
    return np.minimum(np.cumsum(np.exp(logs)), 1.0)


@lru_cache(maxsize=4096)
def md_occupancy(offered: float, servers: int) -> np.ndarray | None:
    """The stationary distribution of the number in an M/D/c queue (``offered``: arrival rate x service time),
    from Crommelin's chain: a service time D later, those in service then have left and that D's arrivals have
    come, N(t + D) = max(N(t) - c, 0) + Poisson(offered). Solved on the states 0 .. n, n doubled until the last
    tenth of them holds under 1e-7 of the mass; None at saturation or when no n up to ``MD_STATES`` does (then
    within a percent or so of saturation, where its wait is past any bound of the lab's)."""
    if offered >= servers:
        return None
    n = int(2 * servers + offered + 10 * math.sqrt(offered) + 40)
    while n <= MD_STATES:
        arrive = np.diff(_poisson_cdf(offered, n), prepend=0.0)  # P(k arrivals in D), k = 0 .. n
        move = np.zeros((n + 1, n + 1))
        for i in range(n + 1):
            left = max(i - servers, 0)
            move[i, left:] = arrive[: n + 1 - left]
            move[i, n] += max(0.0, 1.0 - move[i].sum())  # what would pass n stays at n (checked below)
        balance = move.T - np.eye(n + 1)  # p = p @ move, and sum(p) = 1 in place of one of its equations
        balance[-1, :] = 1.0
        unit = np.zeros(n + 1)
        unit[-1] = 1.0
        p = np.clip(np.linalg.solve(balance, unit), 0.0, None)
        if p[int(0.9 * n) :].sum() < 1e-7:
            return p / p.sum()
        n *= 2
    return None


def md_wait_le(t_ms: float, rate_qps: float, servers: int, service_ms: float) -> float:
    """P(W <= t) in an M/D/c queue served first come first served (Crommelin 1932, in the form of Franx 2001, "A
    simple solution for the M/D/c waiting time distribution"). For t in [(k-1)D, kD), look back y = kD - t from an
    arrival: those in service then leave within D, and each server starts at most (and, while the arrival waits,
    exactly) k more by the arrival's time + t. So the arrival starts by then when those queued y before it, plus
    the arrivals of that y, number under kc: P(W <= t) = sum_n p_n P(Poisson(lambda y) <= kc - 1 - max(n - c, 0))."""
    p = md_occupancy(rate_qps * service_ms / 1000.0, servers)
    if p is None:
        return 0.0
    k = int(t_ms // service_ms) + 1
    y = k * service_ms - t_ms
    room = k * servers - 1 - np.maximum(np.arange(len(p)) - servers, 0)  # more arrivals that fit, per state n
    mean = rate_qps * y / 1000.0
    cdf = _poisson_cdf(mean, int(min(k * servers, mean + 20 * math.sqrt(mean) + 50)))  # 1 past its end
    return float(np.dot(p, np.where(room >= 0, cdf[np.clip(room, 0, len(cdf) - 1)], 0.0)))


def md_wait_quantile_ms(rate_qps: float, servers: int, service_ms: float, q: float = QUANTILE) -> float:
    """The ``q`` quantile of the wait in an M/D/c queue (``md_wait_le``, bisected); inf past saturation."""
    if md_occupancy(rate_qps * service_ms / 1000.0, servers) is None:
        return math.inf
    if md_wait_le(0.0, rate_qps, servers, service_ms) >= q:
        return 0.0
    low, high = 0.0, service_ms
    while md_wait_le(high, rate_qps, servers, service_ms) < q:
        low, high = high, 2 * high
    while high - low > 1e-3 * service_ms:
        mid = (low + high) / 2
        low, high = (mid, high) if md_wait_le(mid, rate_qps, servers, service_ms) < q else (low, mid)
    return high


def wait_quantile_ms(rate_qps: float, servers: int, service_ms: float, q: float = QUANTILE, scv: float = 1.0) -> float:
    """The ``q`` quantile of the wait in an M/G/c queue whose service has squared coefficient of variation ``scv``:
    exact at 1 (M/M/c) and at 0 (M/D/c), and between them in proportion to ``scv`` (as Allen-Cunneen scales the
    mean wait by (1 + scv) / 2, here from the two exact ends); inf past saturation."""
    scv = min(max(scv, 0.0), 1.0)
    mm = mm_wait_quantile_ms(rate_qps, servers, service_ms, q)
    if scv >= 1.0 or math.isinf(mm):
        return mm
    md = md_wait_quantile_ms(rate_qps, servers, service_ms, q)
    return md + scv * (mm - md)


def md_window_quantile_ms(rate_qps: float, servers: int, service_ms: float, queries: int, q: float = QUANTILE,
                          windows: int = 200, seed: int = 0) -> float:  # fmt: skip
    """The median, over ``windows`` runs of ``queries`` Poisson arrivals into an empty M/D/c queue, of each run's
    ``q`` quantile of the wait: what a probe of that many queries from an idle chain sees, where
    ``md_wait_quantile_ms`` is what a long run sees. A queue of few slots of 100 ms fills slowly: at 42.7 a second
    on 5 slots, the stationary p99 wait is 279 ms and a run of 460 queries' median p99 183. With one service time
    for all, first come first served, the i-th arrival starts when the (i - c)-th leaves: s_i = max(a_i, s_(i-c) +
    D), every run at once. The same draws at every rate (scaled by it), so the figure rises with the rate."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1000.0, (windows, queries)), axis=1) / rate_qps  # ms
    starts = arrivals.copy()
    for i in range(servers, queries):
        np.maximum(arrivals[:, i], starts[:, i - servers] + service_ms, out=starts[:, i])
    return float(np.median(np.quantile(starts - arrivals, q, axis=1)))


def _highest(ok, ceiling: float) -> float:
    """The highest rate in (0, ceiling) for which ``ok(rate)`` holds, ``ok`` holding below it and failing above."""
    low, high = 0.0, ceiling
    while high - low > TOLERANCE_QPS * max(1.0, low):
        mid = (low + high) / 2
        low, high = (mid, high) if ok(mid) else (low, mid)
    return low


def capacity(costs: Costs, cores: int, bound_ms: float, q: float = QUANTILE,
             window: Callable[[float], int] | None = None) -> Prediction:  # fmt: skip
    """The predicted capacity of a chain with ``costs`` on ``cores`` cores at a ``q`` quantile within ``bound_ms``:
    over a long run, or with ``window`` (the queries of a probe at a rate) over a probe of that many queries from
    an idle chain, as a capacity search measures it (the slots' wait only, their service taken as constant: the
    cores' queue, of a few ms, fills within any probe)."""
    if costs.latency_ms > bound_ms:
        return Prediction(0.0, "slots", 0.0, 0.0)
    room = bound_ms - costs.latency_ms  # what a request may wait, in any queue
    slots = None
    if costs.concurrency is not None:
        n, s = costs.concurrency, costs.latency_ms
        if window is None:
            fits = lambda r: wait_quantile_ms(r, n, s, q, costs.latency_scv) <= room  # noqa: E731
        else:
            fits = lambda r: md_window_quantile_ms(r, n, s, window(r), q) <= room  # noqa: E731
        slots = _highest(fits, n * 1000.0 / s)
    for n, s, visits in costs.more_slots:  # each visit may wait: their waits add up
        fits = lambda r, n=n, s=s, v=visits: v * wait_quantile_ms(r * v, n, s, q, costs.latency_scv) <= room  # noqa: E731
        more = _highest(fits, n * 1000.0 / s / visits)
        slots = more if slots is None else min(slots, more)
    s = costs.cpu_ms + costs.client_cpu_ms
    fits = lambda r: wait_quantile_ms(r, cores, s, q, costs.cpu_scv) <= room  # noqa: E731
    cpu = _highest(fits, cores * 1000.0 / s) if s > 0 else math.inf
    bound_by = "cores"
    for processes, tier_ms in costs.tiers:
        n = min(processes, cores)
        if tier_ms > 0 and n < cores:  # only a tier with fewer processes than cores is capped below the machine
            fits = lambda r, n=n, s=tier_ms: wait_quantile_ms(r, n, s, q, costs.cpu_scv) <= room  # noqa: E731
            tier = _highest(fits, n * 1000.0 / tier_ms)
            if tier < cpu:
                cpu, bound_by = tier, "tier"
    if slots is not None and slots <= cpu:
        return Prediction(slots, "slots", slots, cpu)
    return Prediction(cpu, bound_by, slots, cpu)
