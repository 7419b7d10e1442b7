"""The headline a user reads first: the ratio with its interval and verdict, each chain's figure with its rounds,
and pyperf's kind of warning when the rounds disagree."""

from __future__ import annotations

from benchmark.render.tables import headline, ratio_text, rounds_text
from benchmark.report.summary import capacity_warnings

RATIO = {"ratio": 10.6, "low": 9.4, "high": 12.0, "verdict": "higher", "rounds": 3,
         "round_spread": 0.04}  # fmt: skip


def summary(ratio: dict, sync_spread: float = 0.03) -> dict:
    found = [{"round": 1, "qps": 46.0, "side": ""}, {"round": 2, "qps": 44.0, "side": ">="},
             {"round": 3, "qps": 47.0, "side": ""}]  # fmt: skip
    chains = {
        "sync": {
            "capacity_text": "46 QPS (43-49)",
            "capacity_rounds_found": found,
            "capacity_round_spread": sync_spread,
        },
        "async": {"capacity_text": "488 QPS (450-530)"},
    }
    return {"chains": chains, "probes": {"sync": [{}]}, "capacity_bound_ms": 250.0, "capacity_ratio": ratio,
            "capacity_when": "2026-12-03 19:00 UTC", "capacity_warnings": capacity_warnings(chains, ratio)}  # fmt: skip


def test_the_headline_gives_the_ratio_first_then_each_chain_as_this_machines_state():
    lines = headline(summary(RATIO))
    assert lines[0].endswith("3 interleaved rounds):")
    assert lines[1] == "  async / sync: higher: 10.60x (9.40-12.00); its interval wholly above 1.1x"
    assert "this machine's state at 2026-12-03 19:00 UTC" in lines[2]
    assert "rounds 46 / >=44 / 47, spread 3%" in lines[3]


def test_each_ratio_says_its_verdict_and_an_earlier_verdict_is_decided_again():
    assert ratio_text(RATIO | {"ratio": 1.02, "low": 0.96, "high": 1.07, "verdict": "equivalent"}).startswith(
        "equivalent: 1.02x (0.96-1.07)"
    )
    assert headline(summary(RATIO | {"verdict": "unresolved"}))[1].endswith("more rounds would tell")
    # A ratio saved before the verdict, or with asv's "same": decided again from its 95% interval.
    assert ratio_text({"ratio": 1.02, "low": 0.9, "high": 1.1}).startswith("unresolved")
    assert ratio_text({"ratio": 1.0, "low": 0.95, "high": 1.05, "verdict": "same"}).startswith("equivalent")
    assert ratio_text({"ratio": 2.0, "low": 1.8, "high": 2.2}) == "higher: 2.00x (1.80-2.20)"


def test_rounds_that_disagree_are_flagged_with_the_rounds_the_precision_needs():
    quiet = capacity_warnings(summary(RATIO)["chains"], RATIO)
    assert quiet == []
    loud = capacity_warnings(summary(RATIO, sync_spread=0.14)["chains"], RATIO | {"round_spread": 0.12})
    assert any(w.startswith("unstable: the sync chain's figure moved 14%") for w in loud)
    assert any("about 23 rounds (--capacity-rounds 23; this run had 3)" in w for w in loud)


def test_no_rounds_no_rounds_text():
    assert rounds_text({"capacity_text": "46 QPS"}) == ""
