"""lab ablation on a real stack, short: the async walk's default, one step, the walk's floor and the registered floor,
held in two rounds; its report rebuilt from the saved holds, with the waterfall."""

from __future__ import annotations

import json

import pytest

from benchmark import ablation
from benchmark.profiles import QUICK
from tests.conftest import lab_settings

pytestmark = pytest.mark.integration


def test_a_short_walk_is_held_summed_and_drawn(tmp_path):
    lab = lab_settings(tmp_path)
    steps = ["async-walk-metrics", "async-walk-floor"]
    run = ablation.run(["async"], lab, QUICK, lambda *_: None, hold_qps={"async": 20.0}, hold_s=2.0, rounds=2,
                       only=steps, in_process=False)  # fmt: skip
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["complete"], manifest.get("incomplete_reason")
    assert manifest["options"]["walks"]["async"] == ["async", *steps, "async-floor"]
    holds = ablation.load_holds(run)
    assert len(holds) == 4 * 2 and all(h["queries"] > 0 and h["errors"] == 0 for h in holds)
    assert all(h["cpu_s"] > 0 for h in holds)  # each chain's own processes were metered
    summary = json.loads((run / "summary.json").read_text())["chains"]["async"]
    assert [s["name"] for s in summary["steps"]] == ["async", *steps, "async-floor"]
    assert [c["step"] for c in summary["costs"]] == steps  # each step against the one before it in the walk
    check = summary["sum_check"]  # the steps telescope to the default minus the walk's floor
    assert check["walked"]["mean"] == pytest.approx(sum(c["saved"]["mean"] for c in summary["costs"]), rel=1e-6)
    assert (run / "plots" / "waterfall.png").stat().st_size > 10_000
    report = (run / "report.html").read_text()
    assert "Where the CPU goes, layer by layer" in report and "data:image/png" in report
