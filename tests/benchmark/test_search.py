"""The capacity search's policy against a simulated chain (no processes, no monkeypatching): it is given a
``measure`` and a clock, finds the known capacity, inside its budget."""

from __future__ import annotations

import json
import math
import random

import pytest

from benchmark.loadgen import capacity, records, search, stats
from benchmark.render import plots


class FakeChain:
    """A chain whose p99 is 80 ms under ``knee_qps`` and overloaded past it; its short bracket probes
    see a knee ``bracket_optimism`` times higher (a queue needs time to build); the probes numbered in
    ``stalls`` (from 1) fail whatever their load, as a stall of a shared machine makes them. Its clock
    advances by each probe's duration and a second."""

    def __init__(self, knee_qps: float, bracket_optimism: float = 1.0, stalls: tuple[int, ...] = ()):
        self.knee_qps, self.optimism, self.stalls = knee_qps, bracket_optimism, stalls
        self.rng, self.now, self.calls = random.Random(5), 0.0, []

    def clock(self) -> float:
        return self.now

    def measure(self, qps: float, duration_s: float, phase: str) -> capacity.Probe:
        self.now += duration_s + 1
        self.calls.append(qps)
        folder = f"probe-{len(self.calls):02d}"
        knee = self.knee_qps * (self.optimism if phase == "bracket" else 1.0)
        over = qps > knee * self.rng.uniform(0.98, 1.02) or len(self.calls) in self.stalls
        p99 = 3000.0 if over else 80.0 + 150.0 * qps / knee
        n = int(qps * duration_s)
        return capacity.Probe(qps, not over, p99, 60.0, qps, 0, None, None, str(folder), duration_s, n,
                              n // 10 if over else 0, queue_building=over, verdict="fail" if over else "unsure",
                              phase=phase, tail_ms=[p99] * max(1, n // 33))  # fmt: skip

    def find(self, budget_s: float = 300) -> capacity.Capacity:
        return search.run(search.Search(250, 4, self.measure, budget_s, progress=lambda *_: None, clock=self.clock))


@pytest.mark.parametrize("optimism", [1.0, 1.4])
def test_the_search_finds_the_knee_even_when_short_probes_overestimate_it(optimism):
    cap = FakeChain(knee_qps=100, bracket_optimism=optimism).find()
    assert cap.qps and 90 <= cap.qps <= 110
    assert cap.seconds <= 300 + 3 * 8 + 60  # its budget, and at most one probe begun inside it


def test_a_stalled_bracket_probe_runs_again_instead_of_closing_the_bracket_under_the_knee():
    """The async chain of a full run: its bracket probe at 90 QPS stalled (seconds of late answers, then
    recovery), the bracket closed there, and eight refinement probes at 60-97 QPS all passed; the capacity
    came out at 90. Here the third probe (120 QPS, knee 150; the first doubled: its p99 under half the bound)
    stalls: it runs again, and the search goes on."""
    chain = FakeChain(knee_qps=150, stalls=(3,))
    cap, calls = chain.find(), chain.calls
    assert calls[:4] == [40, 80, 120, 120]
    assert cap.qps and 135 <= cap.qps <= 165


def test_a_stall_in_the_first_round_does_not_hold_the_search_under_the_knee():
    """A stall in the first refinement round under the knee (its second probe, at 132 QPS, knee 150). The fit
    before the logistic one counted that collapse at 10x the bound, crossed the bound there, and refined around
    131 QPS until the budget was spent; a probe that passes half the time is not moved by one stall."""
    cap = FakeChain(knee_qps=150, stalls=(8,)).find()  # 40, 60, 90, 135, 202 (over), 202, then a round
    assert cap.qps == pytest.approx(150, rel=0.1)
    assert cap.low <= 150 <= cap.high


def test_the_latency_plot_takes_an_interval_that_disagrees_with_loadgen():
    rows = {"sync": [{"target_qps": 40, "p99_ms": 100.0, "p99_low_ms": 120.0, "p99_high_ms": math.inf}]}
    assert plots.capacity_curve(rows, {"sync": {"capacity_qps": 40}}, 250).startswith(b"\x89PNG")


def _probe(qps: float, p99_ms: float) -> capacity.Probe:
    passed = p99_ms <= 250
    return capacity.Probe(qps, passed, p99_ms, 60.0, qps, 0, None, None, "x", 8.0, 800, 0 if passed else 40,
                          queue_building=not passed, verdict="pass" if passed else "fail",
                          tail_ms=[p99_ms] * 24)  # fmt: skip


def test_one_stalled_probe_at_the_windows_low_end_does_not_erase_the_capacity():
    """The async chain of a real run: passes up to 183 QPS, but a stall failed the probe at 148, the lowest
    in the window around 175. The window alone pooled the isotonic fit over the bound (no estimate); the
    logistic fit of the same probes still brackets it."""
    probes = [_probe(115, 128), _probe(173, 135), _probe(259, 2191), _probe(220, math.inf), _probe(181, math.inf),
              _probe(162, 146), _probe(200, math.inf), _probe(201, math.inf), _probe(166, 212), _probe(183, 212),
              _probe(148, math.inf)]  # fmt: skip
    est = capacity.fit(probes, 250, around=175)
    assert est.qps is not None and 162 < est.qps < 200 and est.low <= est.qps <= est.high
    # A window whose probes are all over the bound takes in the nearest pass under it (183 QPS here).
    inside = [p.point for p in probes if 0.7 * 280 <= p.target_qps <= 1.4 * 280]
    assert stats.crossing(inside, 250) is None
    est = capacity.fit(probes, 250, around=280)
    assert est.qps is not None and 183 <= est.qps < 200


# The async chain of a real quick run (20261123T020211Z): load, phase, p99 ms, failed queries, queue building.
ROUNDS_THEN_PASS_WHOLE = [
    (40.0, "bracket", 72, 0, False), (60.0, "bracket", 65, 0, False), (90.0, "bracket", 70, 0, False),
    (135.0, "bracket", 107, 0, False), (202.5, "bracket", 2041, 151, False), (202.5, "bracket", 1748, 144, True),
    (176.2, "refine", 2446, 238, True), (145.5, "refine", 536, 0, False), (130.2, "refine", 97, 0, False),
    (160.8, "refine", 377, 0, False), (162.4, "refine", 149, 0, False), (134.2, "refine", 98, 0, False),
    (148.3, "refine", 165, 0, False), (120.0, "refine", 81, 0, False),
]  # fmt: skip


def test_the_final_fit_is_centred_where_the_last_round_ran():
    """Replayed: the second round (120-162 QPS) passed whole, which moved the next round's load up, to 227;
    the budget ended there, and a fit centred on 227 left out the failures at 146 and 161: 163 QPS, above
    both. Centred where that round ran (141), the fit keeps them."""
    s = search.Search(250, 4, measure=None, progress=lambda *_: None)
    for load, phase, p99, errors, queue in ROUNDS_THEN_PASS_WHOLE:
        n = int(load * (4 if phase == "bracket" else 8))
        passed = p99 <= 250 and not errors and not queue
        s.probes.append(capacity.Probe(load, passed, p99, 60.0, load, errors, None, None, "x", 8.0, n,
                                            0 if passed else n // 50, queue_building=queue, phase=phase,
                                            tail_ms=[float(p99)] * max(1, n // 33)))  # fmt: skip
    s.centre, s.guess = 141.0, 227.0
    cap = s.result()
    assert cap.around == 141.0
    assert cap.qps and cap.qps < 160.8 and cap.low <= 145.5


def test_after_a_round_that_passes_whole_the_next_starts_where_it_ended():
    # A step of 1.6x put a real run's next round at 232-254 QPS, above failures it had seen at 159-179: a round
    # spent where every probe collapsed. The next round now begins at the last one's highest load. Short probes
    # that see the knee at 0.7x its load close the bracket low, so the first round passes whole.
    cap = FakeChain(knee_qps=150, bracket_optimism=0.7).find()
    refine = [p for p in cap.probes if p.phase == "refine"]
    rounds = [refine[i : i + len(search.GRID)] for i in range(0, len(refine), len(search.GRID))]
    steps = [(r, n) for r, n in zip(rounds, rounds[1:], strict=False) if all(p.passed for p in r)]
    assert steps
    for done, after in steps:
        top, bottom = max(p.target_qps for p in done), min(p.target_qps for p in after)
        assert bottom == pytest.approx(top, rel=0.01)


def test_a_saved_search_says_its_format_and_reads_back_in_every_format(tmp_path):
    cap = FakeChain(knee_qps=100).find()
    capacity.save(tmp_path / "capacity.json", cap)
    data = json.loads((tmp_path / "capacity.json").read_text())
    assert data["format"] == records.FORMAT
    again = capacity.load(tmp_path)
    assert (again.qps, again.low, again.high, len(again.probes)) == (cap.qps, cap.low, cap.high, len(cap.probes))
    # Format 1: no version, and a field the lab has since dropped.
    del data["format"]
    data["probes"][0]["dropped_field"] = 1
    (tmp_path / "capacity.json").write_text(json.dumps(data))
    assert capacity.load(tmp_path).qps == cap.qps
    (tmp_path / "capacity.json").write_text(json.dumps(data | {"format": records.FORMAT + 1}))
    with pytest.raises(ValueError, match="this lab reads up to"):
        capacity.load(tmp_path)


def test_the_first_round_is_centred_between_the_brackets_last_pass_and_its_failure():
    """A run's async chain: its bracket passed at 320 QPS and failed at 640, and the first round ran at 288-352,
    around the pass: the bracket's fit had been read as no estimate. It is centred where the fit crosses."""
    cap = FakeChain(knee_qps=150).find()
    bracket = [p for p in cap.probes if p.phase == "bracket"]
    under = max(p.target_qps for p in bracket if p.passed)
    over = min(p.target_qps for p in bracket if not p.passed)
    first = [p.target_qps for p in cap.probes if p.round == 1]
    centre = sorted(first)[1]
    assert under < centre < over and centre == pytest.approx((under + over) / 2, rel=0.1)
