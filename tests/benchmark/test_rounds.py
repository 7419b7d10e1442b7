"""Rounds: two simulated chains searched side by side, round by round, on a machine whose speed moves between
rounds. What a user reads from a run is the ratio's interval and its verdict; here the truth is known.

The chains: a CPU-bound one whose knee moves 5% from probe to probe (test_stats' knee), and its partner. The
drift between rounds is 7% (standard deviation, log-normal) for each chain independently: a drift shared by both
would cancel in a ratio paired by round, so this is the harder case (a chain bound by CPU beside one bound by its
workers, as on this machine). Every figure is seeded: the test gives the same answer each time it runs.
"""

from __future__ import annotations

import math
import random

import pytest

from benchmark.loadgen import capacity, search, stats

ROUND_DRIFT = 0.07  # issue 9's finding: the async chain's figure moved about 7% (sd) between runs
JITTER = 0.05  # from probe to probe


class DriftingChain:
    """A chain bound by CPU: steady under its knee, a queue building past it. Its knee is ``knee_qps`` moved by
    this round's drift (drawn once per round) and by each probe's jitter. Which round a probe belongs to it
    knows as the search does: the bracket is round 0, then ``len(GRID)`` refinement probes a round."""

    def __init__(self, knee_qps: float, rng: random.Random, drift: float = ROUND_DRIFT, shared: dict | None = None):
        self.knee_qps, self.rng, self.drift = knee_qps, rng, drift
        self.refined = 0
        self.drifts: dict[int, float] = {} if shared is None else shared  # shared: both chains drift together
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def measure(self, qps: float, seconds: float, phase: str) -> capacity.Probe:
        round_no = 0 if phase == "bracket" else self.refined // len(search.GRID) + 1
        self.refined += phase == "refine"
        if round_no not in self.drifts:
            self.drifts[round_no] = math.exp(self.rng.gauss(0, self.drift))
        knee = self.knee_qps * self.drifts[round_no] * math.exp(self.rng.gauss(0, JITTER))
        self.now += seconds + 1
        n = int(qps * seconds)
        over = qps > knee
        p99 = 3000.0 if over else 60 + 150 * (qps / knee) ** 4
        return capacity.Probe(qps, not over, p99, 60.0, qps, 0, None, None, "x", seconds, n, n // 10 if over else 0,
                              queue_building=over, verdict="fail" if over else "unsure", phase=phase,
                              tail_ms=[p99] * max(1, n // 33))  # fmt: skip


def searched(rng: random.Random, knees: dict[str, float], shared_drift: bool = False, rounds: int = 3,
             drift: float = ROUND_DRIFT):  # fmt: skip
    """One run: a search per chain, interleaved round by round; each chain's capacity."""
    shared: dict | None = {} if shared_drift else None
    chains = {name: DriftingChain(knee, rng, drift, shared) for name, knee in knees.items()}
    searches = {
        name: search.Search(250, 4, c.measure, budget_s=900, start_qps=40, progress=lambda *_: None, clock=c.clock,
                            rounds=rounds)
        for name, c in chains.items()
    }  # fmt: skip
    return search.interleave(searches, seed=rng.randrange(1 << 30))


@pytest.fixture(scope="module")
def runs() -> list[dict[str, capacity.Capacity]]:
    """100 simulated `lab capacity` runs of the quick profile (three rounds): sync's knee 46 QPS, async's 500."""
    rng = random.Random(25)
    return [searched(rng, {"sync": 46.0, "async": 500.0}) for _ in range(100)]


@pytest.mark.slow  # a simulation of many seeded searches: make test, not make check
def test_the_ratio_interval_covers_the_true_ratio_under_a_drift_between_rounds(runs):
    truth = 500.0 / 46.0
    ratios = [r["async"].ratio_to(r["sync"]) for r in runs]
    covered = sum(r is not None and r["low"] is not None and r["low"] <= truth <= r["high"] for r in ratios)
    # The bound: at least 90% for a nominal 95% interval, with 7% of drift between rounds on each side.
    assert covered / len(runs) >= 0.90
    widths = sorted((r["high"] - r["low"]) / 2 / r["ratio"] for r in ratios if r and r["low"] is not None)
    assert widths[len(widths) // 2] < 0.25  # and the interval still says something
    assert all(r["verdict"] == "higher" for r in ratios if r)  # 10.9x is beyond any doubt


def test_every_probe_ran_in_a_round_and_long_enough_to_pass():
    cap = searched(random.Random(25), {"sync": 46.0, "async": 500.0})["sync"]  # the first of ``runs``: one suffices
    assert {p.round for p in cap.probes} == {0, 1, 2, 3} and cap.rounds == 3
    for p in cap.probes:  # at the sync chain's loads a 4 s probe could never pass (issue 25): 459 queries at least
        assert p.duration_s * p.target_qps >= stats.queries_needed(0) - p.target_qps * 0.05  # rounding to 0.1 s
    under = [p for p in cap.probes if p.phase == "refine" and p.duration_s * p.target_qps > 600]
    assert under  # those under the estimate: enough to pass with one query over the bound (662)


@pytest.mark.slow  # a simulation of many seeded searches: make test, not make check
def test_identical_variants_are_called_different_at_most_one_time_in_twenty():
    rng = random.Random(26)
    verdicts = []
    for _ in range(40):
        found = searched(rng, {"a": 300.0, "b": 300.0})
        r = found["a"].ratio_to(found["b"])
        verdicts.append(r["verdict"] if r else "none")
    assert verdicts.count("higher") + verdicts.count("lower") <= 0.05 * len(verdicts)


@pytest.mark.slow  # a simulation of many seeded searches: make test, not make check
def test_a_drift_both_chains_share_cancels_in_the_paired_ratio():
    """The machine's speed moves both chains alike (a drift of 25% between rounds, shared): the ratio's draws,
    paired by round, are tighter than the same draws unpaired (each side's rounds picked apart)."""
    rng = random.Random(27)
    paired, unpaired = [], []
    for _ in range(12):
        found = searched(rng, {"sync": 100.0, "async": 300.0}, shared_drift=True, drift=0.25)
        a, b = found["async"], found["sync"]
        rounds = sorted(set(a.by_round()) | set(b.by_round()))
        for picks_b, widths in ((stats.round_picks(rounds), paired), (stats.round_picks(rounds, seed=9), unpaired)):
            draws = [x / y for x, y in zip(a.resamples(stats.round_picks(rounds), 1), b.resamples(picks_b, 2),
                                           strict=True) if x and y]  # fmt: skip
            low, high = stats.central(draws, 0.95)
            widths.append(high - low)
    # Measured: 0.84 of the unpaired width. Most of a ratio's interval here is the noise of three probes a round,
    # which no pairing removes; what the pairing takes out is the drift.
    assert sorted(paired)[len(paired) // 2] < 0.9 * sorted(unpaired)[len(unpaired) // 2]


def test_the_verdict_reads_the_interval_against_the_factors_margin():
    assert stats.decide((1.12, 1.40)) == "higher"  # wholly above 1.1x
    assert stats.decide((0.60, 0.90)) == "lower"  # wholly below 1/1.1 = 0.909
    assert stats.decide((0.95, 1.08)) == "equivalent"  # wholly within the margin: neither side reaches the factor
    assert stats.decide((1.02, 1.25)) == "unresolved"  # 1 outside, but the factor inside: asv called it "higher"
    assert stats.decide((0.85, 1.05)) == "unresolved"
    assert stats.decide(None) == "unresolved"
    tight_large = [0.7 + 0.001 * (i % 11 - 5) for i in range(2000)]
    decision = stats.Decision.of(0.7, tight_large)
    assert decision.verdict == "lower" and decision.low <= 0.7 <= decision.high


@pytest.mark.slow  # a simulation of many seeded searches: make test, not make check
def test_two_runs_never_make_two_different_definite_calls():
    """The property the three values are for: pairs of runs of the same two chains, at true ratios on and around
    the factor's edge (where asv's rule flipped between runs), disagree only between a definite call and
    "unresolved"; the rule still calls what is clearly beyond the factor, and calls equivalence when the rounds
    are quiet enough to show it."""
    rng = random.Random(34)

    def call(truth: float, **kw) -> str:
        found = searched(rng, {"a": 200.0 * truth, "b": 200.0}, **kw)
        r = found["a"].ratio_to(found["b"])
        return r["verdict"] if r else "unresolved"

    contradictions, calls = 0, {}
    for truth in (1.0, 1.1, 1.2, 1.5):
        for _ in range(8):
            pair = [call(truth), call(truth)]
            calls.setdefault(truth, []).extend(pair)
            contradictions += len({c for c in pair if c != "unresolved"}) > 1
    # Measured (seed 34): no contradiction in 32 pairs; 1.5x called higher 16 times in 16.
    assert contradictions <= 1  # each interval holds the truth 95% of the time: a rare pair may still disagree
    assert calls[1.5].count("higher") >= 0.8 * len(calls[1.5])
    assert "lower" not in calls[1.0] + calls[1.1] + calls[1.2] and "higher" not in calls[1.0]
    # Equivalence within 1.1x needs a tight interval: with 3-5 rounds the probes' own noise leaves it unresolved;
    # ten rounds of a machine that barely drifts reach it (measured: 3 runs in 4 with seed 5).
    quiet = [call(1.0, rounds=10, drift=0.01) for _ in range(4)]
    assert quiet.count("equivalent") >= 2, quiet


def test_queries_needed_is_loadgens_early_stopping():
    assert [stats.queries_needed(t) for t in range(3)] == [459, 662, 838]
    assert 0.99**459 <= 0.01 < 0.99**458  # none over: every one of n queries under the p99 by chance


def test_a_probe_lasts_what_its_verdict_needs_within_a_quarter_of_the_budget():
    assert search.probe_seconds(46, "refine", 4, 300, over_allowed=1) == pytest.approx(662 / 46, abs=0.1)
    assert search.probe_seconds(46, "refine", 4, 300) == pytest.approx(459 / 46, abs=0.1)
    assert search.probe_seconds(500, "refine", 4, 300) == 8  # the profile's floor: twice 4 s
    assert search.probe_seconds(40, "bracket", 2, 12) == 3  # a tiny test budget: a quarter of it
    assert search.probe_seconds(40, "bracket", 4, 8) == 4  # never under the profile's own length


def test_rounds_needed_follows_the_spread():
    assert stats.rounds_needed(0.05) == 4  # (1.96 x 5% / 5%)^2 = 3.8
    assert stats.rounds_needed(0.15) == 35
