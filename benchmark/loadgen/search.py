"""The capacity search as a policy: which load to probe next, and for how long, from the probes so far.

Two phases. The bracket grows the target QPS by half each probe until one is over the bound (its
p99, a failed query, or a queue building). Then ``rounds``: in each, probes at loads around the current
estimate, in shuffled order, after which the estimate is refitted and the next round centred on it. A run of
several searches (``capacity.interleaved``) closes every bracket first, then runs round 1 of every search,
its probes shuffled together, then round 2, and so on: within a round every chain sees the same machine, and
the ratios between chains are paired by round (``stats.two_level_bootstrap``).

A probe lasts as long as its verdict needs: at least the queries with which LoadGen's early stopping can pass
it (``stats.queries_needed``: 459 with none of them over the bound; 662 with one, for a refinement probe under
the estimate, where a pass is the likely verdict and one slow query of a shared machine must not spoil it), and
never less than the profile's probe length; a quarter of the budget at most.

It measures through the ``measure(qps, seconds, phase)`` it is given and reads time from its ``clock``:
``benchmark.loadgen.probing`` measures a real chain, a test a simulated one.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import replace

from benchmark.loadgen import stats
from benchmark.loadgen.records import Capacity, Probe, fit

GROWTH = 1.5  # the bracket's step up: fine enough that the first probe over the bound is near it
FAST_GROWTH = 2.0  # the step up from a probe whose p99 is under half the bound: the knee is still far
# One round of refinement, as factors of the current estimate: three probes a chain, so that three rounds of two
# chains fit make run's ten minutes (a sync probe near its knee lasts 10-16 s: the queries its verdict needs).
GRID = (0.9, 1.0, 1.1)
REFINE_LENGTH = 2.0  # refinement probes run at least this many times the bracket's duration
MAX_SHARE_OF_BUDGET = 0.25  # no probe longer than this share of the budget: a search has room for four at least
PROBE_OVERHEAD_S = 1.5  # a probe's start, LoadGen's drain and the settle before it, beyond its duration (about 1 s)
ROUNDS = 3
TYPICAL_BRACKET = 5  # bracket probes a search takes here (sync 3-4, async 6-7): for the plan before it starts
TYPICAL_REFINE_S = 11.0  # a refinement probe here: 8 s for the async chain, 9-16 s for the sync one
Measure = Callable[[float, float, str], Probe]


def expected_s(profile) -> float:
    """One search's seconds at ``profile`` before it has run a probe: the plan of a long command's time left."""
    bracket = TYPICAL_BRACKET * (max(profile.capacity_probe_s, 6.0) + PROBE_OVERHEAD_S)
    probe = max(profile.capacity_probe_s * REFINE_LENGTH, TYPICAL_REFINE_S) + PROBE_OVERHEAD_S
    return min(profile.capacity_budget_s, bracket + profile.capacity_rounds * len(GRID) * probe)


def probe_seconds(qps: float, phase: str, floor_s: float, budget_s: float, over_allowed: int = 0) -> float:
    """How long a probe at ``qps`` runs: the queries its verdict needs at that rate with ``over_allowed`` of them
    over the bound, not under ``floor_s`` (the profile's length, twice it for refinement), nor over a quarter of
    the budget (when the floor allows)."""
    floor = floor_s * (REFINE_LENGTH if phase == "refine" else 1.0)
    needed = stats.queries_needed(over_allowed) / max(qps, 1e-9)
    return math.ceil(10 * max(floor, min(needed, MAX_SHARE_OF_BUDGET * budget_s)) - 1e-9) / 10  # up: 0.1 s


class Search:
    """One chain's capacity search: its bracket a probe at a time (``step_bracket``), then ``rounds`` rounds,
    each planned (``round_plan``), probed (``probe``) and closed (``close_round``), so that several searches
    can be interleaved probe by probe and aligned round by round.

    The budget counts this search's own probes only: interleaved with others, its wall clock is shared.
    """

    def __init__(
        self, bound_ms: float, duration_s: float, measure: Measure, budget_s: float = 120.0, start_qps: float = 40.0,
        progress=print, label: str = "", clock: Callable[[], float] = time.monotonic, rounds: int = ROUNDS,
        meter: Callable[[], float] | None = None,
    ):  # fmt: skip
        """``meter``: the server's CPU seconds so far (``lab.processes.cpu_seconds``), read around each probe."""
        self.bound_ms, self.duration_s, self.measure, self.clock = bound_ms, duration_s, measure, clock
        self.meter = meter
        self.budget_s, self.progress, self.label, self.rounds = budget_s, progress, label, rounds
        self.probes: list[Probe] = []
        self.spent = 0.0
        self.rng = random.Random(0)
        self.next_qps = max(start_qps, 1.0)
        self.under: Probe | None = None
        self.doubted = False  # the last bracket probe failed, and runs again at the same load
        self.over: Probe | None = None
        self.guess: float | None = None
        self.bracketed = False
        self.centre: float | None = None  # the load the last round that ran was centred on
        self.done_rounds = 0

    def left(self) -> float:
        return self.budget_s - self.spent

    def seconds(self, qps: float, phase: str) -> float:
        under_estimate = phase == "refine" and self.guess is not None and qps < self.guess * 0.99
        return probe_seconds(qps, phase, self.duration_s, self.budget_s, 1 if under_estimate else 0)

    def _fits(self, seconds: float) -> bool:
        return self.left() > seconds + PROBE_OVERHEAD_S

    def step_bracket(self) -> bool:
        """Run the bracket's next probe; False once the bracket is closed (its guess is then set)."""
        if self.bracketed:
            return False
        growing = self.under is None or self.over is None
        seconds = self.seconds(self.next_qps, "bracket")
        if growing and self._fits(seconds) and self.next_qps >= 0.5:
            p = self.probe(self.next_qps, seconds, "bracket", 0)
            if p.passed:
                far = p.p99_ms is not None and p.p99_ms < self.bound_ms / 2
                self.under, self.next_qps, self.doubted = p, self.next_qps * (FAST_GROWTH if far else GROWTH), False
            elif not self.doubted:
                # A bracket probe that fails runs once more before it closes the bracket: a stall of a shared
                # machine (seconds of every answer late, then recovery) fails a probe far under the knee, and a
                # bracket closed there puts every refinement round too low to see it.
                self.doubted = True
            else:
                self.over, self.next_qps, self.doubted = p, self.next_qps / 2, False
            return True
        self.bracketed = True
        est = fit([self.under, self.over], self.bound_ms, None, interval=False) if self.under and self.over else None
        self.guess = est.qps if est and est.qps else None
        if self.guess is None and self.probes:  # no bracket within the budget: refine around what ran
            self.guess = (self.under or self.over or self.probes[-1]).target_qps
        return False

    def remaining_s(self, in_round: bool = False) -> float:
        """What this search has left to run, as planned now: its rounds at the current estimate (while it
        brackets, two more bracket probes first); ``in_round``: the rounds after the one running now."""
        if self.bracketed and not self.guess:
            return 0.0
        guess = self.guess or self.next_qps * GROWTH
        one_round = sum(self.seconds(guess * f, "refine") + PROBE_OVERHEAD_S for f in GRID)
        bracket = 0.0 if self.bracketed else 2 * (self.seconds(self.next_qps, "bracket") + PROBE_OVERHEAD_S)
        rounds = max(0, self.rounds - self.done_rounds - in_round)
        return min(bracket + rounds * one_round, max(0.0, self.left()))

    def round_plan(self) -> list[tuple[float, float]]:
        """The next round's probes, (load, seconds) in a shuffled order; none when the search is over (its rounds
        done, no load to centre on, or a budget that cannot hold the whole round)."""
        if not self.bracketed or not self.guess or self.done_rounds >= self.rounds:
            return []
        plan = [(self.guess * f, self.seconds(self.guess * f, "refine")) for f in self.rng.sample(GRID, len(GRID))]
        if not self._fits(sum(s + PROBE_OVERHEAD_S for _, s in plan) - PROBE_OVERHEAD_S):
            return []
        self.centre = self.guess
        return plan

    def probe(self, qps: float, seconds: float, phase: str, round_no: int) -> Probe:
        """Measure one probe, as a probe of round ``round_no`` (0: the bracket), and say what it found."""
        t0 = self.clock()
        cpu0 = self.meter() if self.meter else None
        p = replace(self.measure(qps, seconds, phase), round=round_no)
        if cpu0 is not None:
            p = replace(p, server_cpu_s=round(self.meter() - cpu0, 3))
        self.spent += self.clock() - t0
        self.probes.append(p)
        p99 = f"{p.p99_ms:.0f} ms" if p.p99_ms is not None else "-"
        queue = ", queue building" if p.queue_building else ""
        where = f"round {round_no}/{self.rounds}" if round_no else "bracket"
        self.progress(f"    loadgen {self.label}{qps:.0f} QPS ({where}, {seconds:g} s): p99 {p99}, {p.errors} errors"
                      f"{queue}: {p.verdict}")  # fmt: skip
        return p

    def close_round(self) -> None:
        """A round is complete: refit, and centre the next round on the estimate."""
        self.done_rounds += 1
        last = [p for p in self.probes if p.round == self.done_rounds]
        est = fit(self.probes, self.bound_ms, self.guess, interval=False)
        if last and all(p.passed for p in last):
            # The whole round under the bound: look higher, even when the fit crosses the bound lower
            # down (earlier probes, a stall among them, can put it there). The next
            # round's lowest load is this round's highest: a step of 1.6x put a run's next round at
            # 232-254 QPS, where every probe collapsed, above failures it had already seen at 159-179.
            self.guess *= GRID[-1] / GRID[0]
        elif est.qps:
            self.guess = est.qps
        elif last and not any(p.passed for p in last):  # the whole round over the bound: look lower, as far
            self.guess *= GRID[0] / GRID[-1]

    def result(self, interval: bool = True) -> Capacity:
        """The estimate from every probe so far (``interval`` False: without its interval, a race's quick look).

        Its window is centred where the last round ran, not on the next round's load: a round that passed
        whole moves that load up, and when the budget ends there, a window around a load no probe ran at
        leaves out the failures under it (a run's async chain, with a step of 1.6x then: 163 QPS, when probes
        at 146 and 161 had failed).
        """
        around = self.centre or self.guess
        final = fit(self.probes, self.bound_ms, around, interval) if around else stats.Estimate(None, None, None, 0)
        saturated = any((p.client_cpu_pct or 0) > 90 for p in self.probes)
        return Capacity(final.qps or 0.0, self.bound_ms, self.probes, saturated, final.low, final.high,
                        self.budget_s, round(self.spent, 1), around, self.done_rounds)  # fmt: skip


def run(search: Search) -> Capacity:
    """Run ``search`` alone: its bracket, then its rounds; its result."""
    return interleave({"": search})[""]


def interleave(
    searches: dict[str, Search], seed: int = 0, on_left: Callable[[float], None] = lambda seconds: None
) -> dict[str, Capacity]:  # fmt: skip
    """Run several searches side by side: every bracket a probe at a time, in a shuffled order each pass, then
    round by round, each round's probes of every search shuffled together; each one's result. ``on_left`` hears,
    after each probe, the seconds all of them have left as planned."""
    rng = random.Random(seed)
    active = list(searches)
    while active:
        for name in rng.sample(active, len(active)):
            if not searches[name].step_bracket():
                active.remove(name)
            on_left(sum(s.remaining_s() for s in searches.values()))
    for round_no in range(1, max((s.rounds for s in searches.values()), default=0) + 1):
        plans = {name: s.round_plan() for name, s in searches.items()}
        todo = [(name, qps, seconds) for name, plan in plans.items() for qps, seconds in plan]
        later = sum(s.remaining_s(in_round=True) for s in searches.values())
        for i, (name, qps, seconds) in enumerate(order := rng.sample(todo, len(todo))):
            on_left(later + sum(s + PROBE_OVERHEAD_S for _, _, s in order[i:]))
            searches[name].probe(qps, seconds, "refine", round_no)
        for name, plan in plans.items():
            if plan:
                searches[name].close_round()
    return {name: s.result() for name, s in searches.items()}
