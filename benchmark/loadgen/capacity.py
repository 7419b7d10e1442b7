"""Capacity at p99 <= bound, as an estimate with a 95% interval, inside a time budget per chain.

The search's policy is ``search``, its records ``records``, a probe's verdict ``verdict`` and the probes
themselves ``probing``; this joins them to a running chain and saves each search's result in its folder
(``capacity.json``), and says how the method departs from MLPerf's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from benchmark.loadgen import search as policy
from benchmark.loadgen.probing import measurer, probe, settle
from benchmark.loadgen.records import FAILED_MS, Capacity, Probe, fit, load, save
from benchmark.loadgen.search import GRID
from benchmark.loadgen.verdict import judge

__all__ = ["FAILED_MS", "GRID", "Capacity", "Probe", "Search", "departures", "find", "fit", "interleaved", "judge",
           "load", "probe", "save", "settle"]  # fmt: skip

# MLPerf Inference's own Server-scenario minimums, which a lab run on a laptop does not meet.
MLPERF_MIN_DURATION_S = 600
MLPERF_MIN_QUERIES = 270_336


class Search(policy.Search):
    """The search of a running chain's scoring handler at ``url``: each probe a LoadGen process in a folder under
    ``out``, the result saved there. The budget counts this search's own probes only: interleaved with others,
    its wall clock is shared."""

    def __init__(
        self, url: str, bound_ms: float, duration_s: float, out: Path, budget_s: float = 120.0,
        start_qps: float = 40.0, entities: int = 10000, progress=print, label: str = "",
        client_cpus: set[int] | None = None, rounds: int = policy.ROUNDS, body: Path | None = None,
        meter: Callable[[], float] | None = None,
    ):  # fmt: skip
        self.out = out
        # LoadGen's cores when the chain is pinned; ``body``: one fixed request, for an endpoint of the user's.
        measure = measurer(url, bound_ms, entities, out, client_cpus, body)
        super().__init__(bound_ms, duration_s, measure, budget_s, start_qps, progress, label, rounds=rounds,
                         meter=meter)  # fmt: skip

    def result(self, interval: bool = True) -> Capacity:
        cap = super().result(interval)
        if interval:  # the figure to keep, not a race's look between rounds
            save(self.out / "capacity.json", cap)
        return cap


def find(
    url: str, bound_ms: float, duration_s: float, out: Path, budget_s: float = 120.0, start_qps: float = 40.0,
    entities: int = 10000, progress=print, client_cpus: set[int] | None = None, rounds: int = policy.ROUNDS,
) -> Capacity:  # fmt: skip
    """Bracket the bound, then refine around it in ``rounds`` shuffled rounds, within the budget."""
    return policy.run(Search(url, bound_ms, duration_s, out, budget_s, start_qps, entities, progress, "", client_cpus,
                             rounds))  # fmt: skip


def interleaved(searches: dict[str, policy.Search], on_left=lambda seconds: None) -> dict[str, Capacity]:
    """Run several searches side by side, round by round (``search.interleave``), so that the drift of the
    machine hits them all alike and their ratios are paired by round; returns each one's result. ``on_left``
    hears the seconds they have left, as planned, after each probe."""
    return policy.interleave(searches, on_left=on_left)


def departures(duration_s: float, probes: list[Probe]) -> str:
    """How the capacity was estimated, and where the run departs from MLPerf's official minimums."""
    queries = max((p.queries or int(p.target_qps * duration_s) for p in probes), default=0)
    longest = max((p.duration_s or duration_s for p in probes), default=duration_s)
    return (
        f"Each probe ran {longest:g} s at most and about {queries} queries at most; MLPerf Inference requires at "
        f"least {MLPERF_MIN_DURATION_S} s and {MLPERF_MIN_QUERIES} queries per Server run, so no probe is an official "
        "result. A probe passes with 99% confidence when LoadGen's early-stopping estimate says so, fails with 99% "
        "confidence when the mirror test, a failed query or a queue building (latency rising within the probe) says "
        "so, and is unsure otherwise; each lasts long enough to pass (459 queries with none over the bound for a "
        "bracket probe, 662 with one for a refinement probe), a quarter of the budget at most. The capacity is the "
        "load a probe is as likely to pass as to fail at: there a logistic curve, fitted to each probe's chance of "
        "being over the bound (certain for a collapse), is 0.5; its 95% interval is a two-level percentile "
        "bootstrap (rounds, then probes within them), and a ratio pairs its two sides' draws by round."
    )
