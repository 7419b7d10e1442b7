"""The capacity search as a policy: which load to probe next, and for how long, from the probes so far.

Two phases. The bracket grows the target QPS by half each probe until one is over the bound (its
p99, a failed query, or a queue building). Then rounds of longer probes at loads around the current
estimate, in shuffled order so the machine's drift hits every load alike, each round refitting the
estimate and its interval (``stats``), until the interval is tight or the budget is spent: the time
goes where the answer is uncertain (the idea of perf_analyzer's stability windows).

It measures through the ``measure(qps, seconds, phase)`` it is given and reads time from its ``clock``:
``benchmark.loadgen.probing`` measures a real chain, a test a simulated one.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from benchmark.loadgen import stats
from benchmark.loadgen.records import Capacity, Probe, fit

GROWTH = 1.5  # the bracket's step up: fine enough that the first probe over the bound is near it
GRID = (0.85, 0.95, 1.05, 1.15)  # one round of refinement, as factors of the current estimate
REFINE_LENGTH = 2.0  # refinement probes run this many times the bracket's duration
TIGHT = 0.05  # stop refining once the interval's half-width is this fraction of the estimate
PROBE_OVERHEAD_S = 3.0  # a probe's start, LoadGen's drain and the settle before it, beyond its duration
Measure = Callable[[float, float, str], Probe]


class Search:
    """One chain's capacity search, one probe per ``step``, so that several can be interleaved.

    The budget counts this search's own probes only: interleaved with others, its wall clock is shared.
    """

    def __init__(
        self, bound_ms: float, duration_s: float, measure: Measure, budget_s: float = 120.0, start_qps: float = 40.0,
        progress=print, label: str = "", clock: Callable[[], float] = time.monotonic,
    ):  # fmt: skip
        self.bound_ms, self.duration_s, self.measure, self.clock = bound_ms, duration_s, measure, clock
        self.budget_s, self.progress, self.label = budget_s, progress, label
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
        t0 = self.clock()
        p = self.measure(qps, seconds, phase)
        self.spent += self.clock() - t0
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
        """The estimate from every probe so far.

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
        return result


def run(search: Search) -> Capacity:
    """Step ``search`` until it is over; its result."""
    while search.step():
        pass
    return search.result()
