"""``lab goodput`` on tiny durations against real chains: a probe per policy and load, a report from raw files."""

from __future__ import annotations

import json

import pytest

from benchmark import goodput
from benchmark.profiles import QUICK
from benchmark.report.build import build
from tests.conftest import lab_settings

pytestmark = pytest.mark.integration


def test_goodput_measures_every_policy_and_load_and_rebuilds_its_report(tmp_path):
    lab = lab_settings(tmp_path)
    profile = QUICK.with_options(capacity_probe_s=2, capacity_budget_s=8)
    path = goodput.run(["async"], lab, profile, lambda *_: None, policies=("off", "delay"), multiples=(0.5, 2.0),
                       probe_s=2, seed=3, known={"async": 120.0}, publish=build)  # fmt: skip
    summary = goodput.summarise(path)
    points = {(p["policy"], p["multiple"]): p for p in summary["points"]}
    assert set(points) == {("off", 0.5), ("off", 2.0), ("delay", 0.5), ("delay", 2.0)}
    for p in points.values():
        # Every query LoadGen sent is accounted for: served, refused or failed.
        assert p["sent"] >= 0.5 * p["offered_qps"] * 2 and p["served"] + p["refused"] + p["failed"] == p["sent"]
        assert 0 <= p["good"] <= p["served"]
    assert points[("off", 0.5)]["good"] > 0  # under capacity, answers come within the bound
    assert points[("off", 2.0)]["refused"] == 0  # off never refuses
    report = (path / "report.html").read_text()
    assert "Goodput past capacity" in report and "goodput.png" in report
    before = json.dumps(summary, sort_keys=True)
    build(path)  # rebuilt from the raw files alone, the same figures
    assert json.dumps(goodput.summarise(path), sort_keys=True) == before
