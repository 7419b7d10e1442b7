"""The advisor's race, on simulated candidates whose capacities are known: the pure race with a simulated measure,
as the capacity search's tests drive it (``tests/benchmark/test_rounds.py``'s drifting chains)."""

from __future__ import annotations

import random

import pytest

from benchmark.advise import race as race_
from benchmark.loadgen import search, stats
from tests.benchmark.test_rounds import DriftingChain

# Five candidates: the best, one within the factor of it (0.95x: equivalent in truth, never to be dropped), and
# three beyond it (0.83x, 0.6x, 0.3x).
KNEES = {"best": 300.0, "close": 285.0, "fair": 250.0, "poor": 180.0, "worst": 90.0}
BUDGET_S = 1800.0  # probing, in all: the advisor's default of 30 minutes


def one_race(seed: int, knees: dict[str, float] = KNEES, **kw) -> race_.Race:
    rng = random.Random(seed)
    chains = {name: DriftingChain(knee, rng) for name, knee in knees.items()}
    searches = {
        name: search.Search(250, 4, c.measure, budget_s=BUDGET_S, start_qps=40, progress=lambda *_: None,
                            clock=c.clock, rounds=race_.MAX_ROUNDS)
        for name, c in chains.items()
    }  # fmt: skip
    return race_.race(searches, BUDGET_S, seed=seed, final_resamples=race_.DECISION_RESAMPLES, final_intervals=False,
                      **kw)  # fmt: skip


def test_a_race_drops_only_on_the_rule_and_says_each_fate():
    r = one_race(1, futility=False)  # every unresolved candidate runs on: the rounds show who was dropped when
    assert r.leader in ("best", "close")
    # The worst (0.3x) is out after its bracket: it failed twice at a load the leader passed at 1.5x or more.
    screened = r.fates["worst"]
    assert (screened.fate, screened.round) == ("dropped", 0)
    assert screened.ratio["failed_qps"] * race_.SCREEN_MARGIN < screened.ratio["passed_qps"]  # the evidence
    assert any(line.startswith("screening: worst dropped") for line in r.events)
    # The poor one (0.6x) is dropped by a round's paired interval, wholly under 1/FACTOR.
    dropped = r.fates["poor"]
    assert dropped.fate == "dropped" and dropped.round >= race_.MIN_ROUNDS
    assert dropped.ratio["verdict"] == "lower" and dropped.ratio["high"] <= 1 / stats.FACTOR
    assert any(line.startswith(f"round {dropped.round}: poor dropped") for line in r.events)
    assert all(f.fate in ("leader", "equivalent", "dropped", "unresolved") for f in r.fates.values())
    # Dropped candidates stop costing probes: the screened one ran no round, the poor one fewer than the leader.
    assert max(p.round for p in r.capacities["worst"].probes) == 0
    assert max(p.round for p in r.capacities["poor"].probes) < max(p.round for p in r.capacities[r.leader].probes)


def test_a_candidate_the_rounds_left_cannot_decide_stops_unresolved_and_the_race_ends_sooner():
    full, cut = one_race(1, futility=False), one_race(1)
    # With the same seed the close one (0.95x) stays unresolved through the cap; stopped early, it is unresolved still.
    assert full.fates["close"].fate == "unresolved" and full.rounds == race_.MAX_ROUNDS
    stopped = cut.fates["close"]
    assert stopped.fate == "unresolved" and race_.MIN_ROUNDS <= stopped.round < race_.MAX_ROUNDS
    assert race_._futile(stopped.ratio, stopped.round, race_.MAX_ROUNDS, stats.FACTOR)  # the evidence, re-read
    assert any(f"{stopped.round}: close stopped unresolved" in line for line in cut.events)
    assert not any(f.fate in ("dropped", "equivalent") and n in ("best", "close") for n, f in cut.fates.items())
    probing = lambda r: sum(p.duration_s for c in r.capacities.values() for p in c.probes)  # noqa: E731
    assert cut.rounds < full.rounds and probing(cut) < probing(full)


def test_futility_on_known_intervals():
    # 0.99x (0.90-1.37) after 2 of 6 rounds: narrowed by sqrt(2/6) it is 0.94-1.21, across 1.1: not to be decided.
    assert race_._futile({"ratio": 0.99, "low": 0.90, "high": 1.37}, 2, 6, 1.1)
    # 0.60x (0.50-0.95): narrowed, 0.54-0.80, wholly under 0.91: more rounds would drop it, so it runs on.
    assert not race_._futile({"ratio": 0.60, "low": 0.50, "high": 0.95}, 2, 6, 1.1)
    assert not race_._futile({"ratio": 0.99, "low": 0.90, "high": 1.37}, 6, 6, 1.1)  # no rounds left: not futility
    assert not race_._futile({"ratio": 0.99, "low": None, "high": None}, 2, 6, 1.1)  # no interval yet


def test_a_candidate_that_never_passes_is_out_and_the_race_goes_on():
    r = one_race(2, {"best": 300.0, "broken": 0.01, "poor": 150.0})
    assert r.fates["broken"].fate == "failed"
    assert r.leader == "best"


def test_the_budget_ends_a_race_with_what_is_left_unresolved():
    r = one_race(3, {"a": 300.0, "b": 290.0}, max_rounds=race_.MAX_ROUNDS)
    assert r.rounds <= race_.MAX_ROUNDS and r.stopped.startswith(("separated", "max rounds", "budget"))
    assert {f.fate for f in r.fates.values()} <= {"leader", "equivalent", "unresolved"}  # too close to drop


@pytest.mark.slow  # a hundred simulated races: make test, not make check
def test_the_race_picks_the_best_or_one_within_the_factor_and_rarely_drops_a_close_one():
    picked_well = dropped_close = 0
    rounds, spent = [], []
    for seed in range(100):
        r = one_race(1000 + seed)
        within = {n for n, k in KNEES.items() if k * stats.FACTOR >= KNEES["best"]}  # best and close
        picked_well += r.leader in within
        dropped_close += r.fates["close"].fate == "dropped"
        rounds.append(r.rounds)
        spent.append(sum(p.duration_s for c in r.capacities.values() for p in c.probes))
    print(f"picked the best or one within the factor: {picked_well}/100; the close one dropped: {dropped_close}/100; "
          f"rounds {sorted(rounds)[50]} and probing {sorted(spent)[50]:.0f} s at the median")  # fmt: skip
    assert picked_well >= 95  # the bound: the best, or one within the factor of it, in 95 runs of 100
    assert dropped_close <= 5  # and a candidate within the factor of the best dropped in 5 at most
    assert max(spent) <= BUDGET_S


def test_an_exhaustive_grid_drops_none_and_runs_every_round():
    r = one_race(4, {"a": 300.0, "b": 150.0, "c": 90.0}, exhaustive=True, max_rounds=3)
    assert r.rounds == 3 and not [e for e in r.events if " dropped" in e]
    assert all(max(p.round for p in c.probes) == 3 for c in r.capacities.values())  # every candidate, every round
    assert r.leader == "a" and r.fates["c"].fate == "dropped"  # the verdict at the end still reads the intervals


def test_cpu_per_request_reads_the_metered_probes_under_capacity():
    from dataclasses import replace

    from benchmark.loadgen.records import Capacity, Probe

    def probe(passed, cpu, queries):
        p = Probe(100.0, passed, 10.0, 5.0, 100.0, 0, "VALID", 10.0, "", queries=queries)
        return replace(p, server_cpu_s=cpu)

    cap = Capacity(100.0, 250, [probe(True, 1.0, 1000), probe(True, 3.0, 1000), probe(False, 9.0, 1000)], False)
    assert cap.cpu_ms_per_request() == pytest.approx(2.0)  # (1 + 3) s / 2000 queries; the failed probe left out
    assert Capacity(100.0, 250, [probe(True, None, 1000)], False).cpu_ms_per_request() is None  # not metered


def test_a_search_given_a_meter_records_each_probes_cpu():
    readings = iter([10.0, 10.4, 10.4, 11.0])
    s = search.Search(250, 4, lambda q, sec, ph: _probe(q), meter=lambda: next(readings), progress=lambda *_: None)
    assert [s.probe(50, 4, "bracket", 0).server_cpu_s for _ in range(2)] == [0.4, 0.6]


def _probe(qps):
    from benchmark.loadgen.records import Probe

    return Probe(qps, True, 10.0, 5.0, qps, 0, "VALID", 10.0, "", queries=int(4 * qps))


def test_an_advisors_pick_is_checked_against_an_exhaustive_run_of_the_same_candidates(tmp_path):
    import json

    from benchmark.advise import against
    from benchmark.loadgen.records import save

    knees = {"a": 300.0, "b": 150.0, "c": 90.0}
    runs = {"grid": (one_race(5, knees, exhaustive=True, max_rounds=3), 600), "race": (one_race(5, knees), 200)}
    for folder, (r, seconds) in runs.items():
        for name, cap in r.capacities.items():
            save(tmp_path / folder / "candidates" / name / "loadgen" / "capacity.json", cap)
        ended = f"2026-12-04T10:{seconds // 60:02d}:{seconds % 60:02d}+00:00"
        (tmp_path / folder / "manifest.json").write_text(json.dumps({"started": "2026-12-04T10:00:00+00:00",
                                                                     "ended": ended, "format": 2}))  # fmt: skip
    (tmp_path / "race" / "recommended.json").write_text(json.dumps({"candidate": "c"}))  # a wrong pick, on purpose
    out = against.check(tmp_path / "grid", tmp_path / "race")
    assert out["pick"] == "c" and out["better"] == ["a", "b"]  # both beat it by the rule, in the grid's own rounds
    assert out["time_share"] == pytest.approx(200 / 600) and out["exhaustive"]["candidates"] == 3
    assert out["rows"]["a"]["ratio_to_pick"]["verdict"] == "higher" and out["rows"]["c"]["ratio_to_pick"] is None


def test_the_race_says_what_it_has_left_and_it_shrinks():
    said: list[float] = []
    r = one_race(6, {"a": 300.0, "b": 150.0, "c": 100.0}, on_left=said.append)
    assert len(said) == r.rounds + 1  # after the screening, then after each round
    assert said[0] <= BUDGET_S and said == sorted(said, reverse=True) and said[-1] < said[0]
