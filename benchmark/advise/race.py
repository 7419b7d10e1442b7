"""A race of candidate configurations: screened briefly, then measured round by round, each dropped only when the lab's
decision rule says it is worse than the leader, stopped once the leader stands apart.

Every candidate is a capacity search (``benchmark.loadgen.search.Search``): its bracket is the screening, then
rounds of probes around its estimate. The screening drops a candidate at once when it failed twice (the bracket runs
a failed probe again) at a load under the leader's highest pass divided by ``SCREEN_MARGIN``: its capacity is under
the one, the leader's over the other, so its ratio is under 1/SCREEN_MARGIN without an interval. The survivors run
rounds: every survivor's probes of a round shuffled together so that the machine's drift hits them alike (as ``lab
compare`` runs them). After each round from ``min_rounds`` on, the leader is the survivor with the highest capacity,
and every other survivor's ratio to it is paired by round (``Capacity.ratio_to``): "lower" (its interval wholly
under 1/FACTOR) drops it; "equivalent" (wholly within the factor's margin) keeps it beside the leader; "unresolved"
asks for another round. The race stops when no survivor is unresolved, at ``max_rounds``, or when the next round
does not fit the budget, and says for each candidate its fate and the evidence.

Why not Optuna (ask-and-tell, its pruners) or SMAC3's intensifier: their trials report one number each and are
compared by value; here a candidate is re-measured in rounds *together with* the others, and what separates two
candidates is the interval of their ratio paired by round, which cancels the drift of a shared machine (the
headline's ratio moved from 11-13x to 8x between two days here; paired ratios within a run repeat). The space is a
few tens of discrete configurations, so there is nothing for a sampler to model: what costs time is deciding between
close candidates, which is what a race on paired intervals does (F-Race's idea, on the lab's statistics).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmark.loadgen import stats
from benchmark.loadgen.records import Capacity
from benchmark.loadgen.search import PROBE_OVERHEAD_S, Search

# A screening drop needs the leader to have passed this many times the load the candidate failed at twice: far
# beyond the decision's factor (1.1), so that a stall of a shared machine slowing the candidate's two probes by up
# to 1.5x cannot drop one that is close, and coarse enough for brackets that grow 1.5x-2x a probe.
SCREEN_MARGIN = 1.5
MIN_ROUNDS = 2  # a ratio paired by round needs two rounds before its interval means anything
MAX_ROUNDS = 6
DECISION_RESAMPLES = 500  # the bootstrap draws of a decision between rounds (the final figures use the full count)


@dataclass
class Fate:
    """What became of one candidate: ``leader``, ``equivalent`` (to the leader), ``dropped`` (after ``round``, on
    ``ratio``), ``unresolved`` (when the race ended), or ``failed`` (no capacity: it never passed a probe)."""

    name: str
    fate: str
    round: int = 0
    ratio: dict | None = None  # its ratio to the leader when it was decided (``Capacity.ratio_to``)
    leader: str = ""


@dataclass
class Race:
    """A race's outcome: each candidate's capacity (with its interval) and fate, and the rounds it ran."""

    capacities: dict[str, Capacity]
    fates: dict[str, Fate]
    rounds: int
    stopped: str  # why it stopped: "separated" (or not to be decided: ``_futile``), "max rounds" or "budget"
    events: list[str] = field(default_factory=list)

    @property
    def leader(self) -> str | None:
        return next((n for n, f in self.fates.items() if f.fate == "leader"), None)

    def equivalents(self) -> list[str]:
        return [n for n, f in self.fates.items() if f.fate == "equivalent"]


def _leader(caps: dict[str, Capacity]) -> str | None:
    found = {n: c.qps for n, c in caps.items() if c.qps}
    return max(found, key=found.__getitem__) if found else None


def race(
    searches: dict[str, Search], budget_s: float, seed: int = 0, min_rounds: int = MIN_ROUNDS,
    max_rounds: int = MAX_ROUNDS, factor: float = stats.FACTOR, say: Callable[[str], None] = lambda line: None,
    resamples: int = DECISION_RESAMPLES, final_resamples: int = stats.BOOTSTRAP_RESAMPLES,
    final_intervals: bool = True, on_drop: Callable[[str], None] = lambda name: None, exhaustive: bool = False,
    on_left: Callable[[float], None] = lambda seconds: None, futility: bool = True,
) -> Race:  # fmt: skip
    """Race ``searches`` (one per candidate, each with ``rounds`` at least ``max_rounds``) within ``budget_s`` of
    probing in all; ``say`` hears each decision as it is made, ``on_drop`` each candidate dropped (its server can
    stop), ``on_left`` the probing it has left at most after the screening and each round (the survivors' rounds,
    within the budget). ``exhaustive``: no candidate is dropped and every one runs every round (the grid the race
    is checked against). ``resamples``: the bootstrap draws of a decision between rounds; ``final_resamples`` and
    ``final_intervals``: those of the figures it ends with (a simulation of many races may spare them).
    ``futility``: stop measuring an unresolved candidate once the rounds left could not decide it (``_futile``).
    """
    rng = random.Random(seed)
    events: list[str] = []

    def note(line: str) -> None:
        events.append(line)
        say(line)

    spent = lambda: sum(s.spent for s in searches.values())  # noqa: E731
    active = list(searches)
    while active:  # the screening: every bracket, a probe at a time, in a shuffled order each pass
        for name in rng.sample(active, len(active)):
            if not searches[name].step_bracket():
                active.remove(name)
    fates: dict[str, Fate] = {}
    for name, s in searches.items():
        if not s.guess or not any(p.passed for p in s.probes):
            fates[name] = Fate(name, "failed")
            note(f"{name}: no load passed in its screening: out of the race")
    if not exhaustive:
        for name, fate in _screen({n: s for n, s in searches.items() if n not in fates}).items():
            fates[name] = fate
            note(
                f"screening: {name} dropped, it failed twice at {fate.ratio['failed_qps']:.0f} QPS, "
                f"{fate.leader} passed {fate.ratio['passed_qps']:.0f}"
            )
            on_drop(name)
    survivors = [n for n in searches if n not in fates]
    rounds, stopped, futile = 0, "max rounds", 0

    def say_left() -> None:
        planned = sum(searches[n].remaining_s() for n in survivors)
        on_left(max(0.0, min(planned, budget_s - spent())))

    say_left()
    while rounds < max_rounds and survivors:
        plans = {n: searches[n].round_plan() for n in survivors}
        todo = [(n, qps, sec) for n, plan in plans.items() for qps, sec in plan]
        if not todo or spent() + sum(sec + PROBE_OVERHEAD_S for *_, sec in todo) > budget_s:
            stopped = "budget"
            break
        rounds += 1
        for n, qps, sec in rng.sample(todo, len(todo)):
            searches[n].probe(qps, sec, "refine", rounds)
        for n in survivors:
            searches[n].close_round()
        if exhaustive or rounds < min_rounds or len(survivors) == 1:
            say_left()
            continue
        caps = {n: searches[n].result(interval=False) for n in survivors}
        leader = _leader(caps)
        if leader is None:
            say_left()
            continue
        open_ = []
        for n in survivors:
            if n == leader:
                continue
            ratio = caps[n].ratio_to(caps[leader], resamples=resamples)
            verdict = ratio["verdict"] if ratio else "lower"  # no capacity beside one that has one
            if verdict == "lower" and not any(not p.passed for p in searches[n].probes):
                # Every probe of it passed: its figure is only a floor (a draw that does not cross the bound counts
                # at its highest load), so a ratio under the factor says nothing yet: its next round looks higher.
                verdict = "unresolved"
            if verdict == "lower":
                fates[n] = Fate(n, "dropped", rounds, ratio, leader)
                note(f"round {rounds}: {n} dropped, {_ratio_text(ratio)} of {leader}'s capacity")
                on_drop(n)
            elif verdict == "unresolved" and futility and _futile(ratio, rounds, max_rounds, factor):
                fates[n] = Fate(n, "unresolved", rounds, ratio, leader)
                futile += 1
                note(f"round {rounds}: {n} stopped unresolved, {_ratio_text(ratio)} of {leader}'s capacity: the rounds "
                     f"left to {max_rounds} would not decide it")  # fmt: skip
                on_drop(n)
            elif verdict == "unresolved":
                open_.append(n)
        survivors = [n for n in survivors if n not in fates]
        say_left()
        if not open_:
            stopped = "separated" if not futile else "separated, or not to be decided within the rounds left"
            break
    caps = {n: s.result(final_intervals) for n, s in searches.items()}
    leader = _leader({n: caps[n] for n in survivors}) if survivors else None
    for n in survivors:
        if n == leader:
            fates[n] = Fate(n, "leader", rounds)
            continue
        ratio = caps[n].ratio_to(caps[leader], resamples=final_resamples) if leader else None
        verdict = ratio["verdict"] if ratio else "unresolved"
        fate = {"equivalent": "equivalent", "lower": "dropped"}.get(verdict, "unresolved")
        fates[n] = Fate(n, fate, rounds, ratio, leader or "")
    note(f"the race stopped after {rounds} rounds ({stopped}): leader {leader or 'none'}")
    return Race(caps, {n: fates[n] for n in searches}, rounds, stopped, events)


def _futile(ratio: dict | None, rounds: int, max_rounds: int, factor: float) -> bool:
    """Whether ``max_rounds`` would leave an unresolved ratio unresolved still: its interval, narrowed about its ratio
    as the square root of the rounds (a mean's standard error), would still hold 1/factor without lying wholly
    within the factor's margin. Stopping it gives no verdict (it stays "unresolved"): the rule's calls are untouched,
    and what it saves is the rounds that F-Race's candidates spend near the leader, often to no decision (in 100
    simulated races without it, 97 ran to the six-round cap with a 0.95x candidate still unresolved)."""
    if not ratio or ratio.get("low") is None or rounds >= max_rounds:
        return False
    shrink = math.sqrt(rounds / max_rounds)
    mid = ratio["ratio"]
    low, high = mid - (mid - ratio["low"]) * shrink, mid + (ratio["high"] - mid) * shrink
    decided = high < 1 / factor or low > factor or (low >= 1 / factor and high <= factor)
    return not decided


def _screen(searches: dict[str, Search]) -> dict[str, Fate]:
    """The candidates the screening drops: each whose bracket closed on a load it failed twice that is under the
    screening leader's highest passing load / SCREEN_MARGIN (the leader: the highest pass of all)."""
    passes = {n: max(p.target_qps for p in s.probes if p.passed) for n, s in searches.items()}
    if not passes:
        return {}
    leader = max(passes, key=passes.__getitem__)
    dropped = {}
    for n, s in searches.items():
        if n != leader and s.over is not None and s.over.target_qps * SCREEN_MARGIN < passes[leader]:
            ratio = {"failed_qps": s.over.target_qps, "passed_qps": passes[leader], "verdict": "lower",
                     "ratio": None, "low": None, "high": s.over.target_qps / passes[leader]}  # fmt: skip
            dropped[n] = Fate(n, "dropped", 0, ratio, leader)
    return dropped


def _ratio_text(ratio: dict | None) -> str:
    if not ratio or ratio.get("low") is None:
        return "no capacity"
    return f"{ratio['ratio']:.2f}x ({ratio['low']:.2f}-{ratio['high']:.2f})"
