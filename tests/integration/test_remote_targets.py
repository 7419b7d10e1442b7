"""Benchmarks against chains at URLs the user gives: the lab measures them without starting anything."""

from __future__ import annotations

import json

import pytest

from benchmark import suite
from benchmark.profiles import QUICK
from tests.conftest import lab_settings, make_stack
from tests.integration.test_stack import lab_cli, stack_env

pytestmark = pytest.mark.integration

TINY = QUICK.with_options(
    timeit_min_calls=1, timeit_max_calls=2, timeit_repetitions=2, capacity_probe_s=2, capacity_budget_s=12
)  # fmt: skip


def elsewhere(running) -> dict[str, str]:
    stack, _ = running
    return {chain: stack.scoring(chain).url for chain in ("sync", "async")}


def test_timeit_and_capacity_measure_the_chains_at_the_given_urls(running_stack, tmp_path):
    # The lab's own settings point at ports nobody listens on: any request sent there would fail verification.
    decoy = make_stack().at_urls(elsewhere(running_stack))
    run = suite.run(decoy, lab_settings(tmp_path), TINY, ("timeit", "capacity"), progress=lambda *_: None)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["options"]["remote"] == ["sync", "async"]
    assert manifest["options"]["targets"] == elsewhere(running_stack)
    assert manifest["settings"]["scoring-sync"] == {"remote": True, "url": elsewhere(running_stack)["sync"]}
    summary = json.loads((run / "summary.json").read_text())
    for chain in ("sync", "async"):
        c = summary["chains"][chain]
        assert c["capacity_qps"] is not None and c["capacity_probes"] >= 1
        assert c["peak_rss_mb"] is None  # no process of a remote chain is sampled
    assert summary["littles_bound_sync"] is None  # its workers are unknown
    assert "measured at a URL given by the user" in (run / "summary.md").read_text()


def test_the_cli_takes_the_urls_and_refuses_a_bad_one(running_stack, tmp_path):
    stack, _ = running_stack
    env = stack_env(make_stack(), tmp_path) | {"LAB_RESULTS_DIR": str(tmp_path / "results")}
    urls = elsewhere(running_stack)
    ok = lab_cli(["timeit", "--sync-url", urls["sync"], "--async-url", urls["async"], "--max-calls", "1",
                  "--repetitions", "1"], env)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "report:" in ok.stdout
    bad = lab_cli(["timeit", "--sync-url", f"{urls['sync']}/api/v1/ml/sync/predict"], env)
    assert bad.returncode == 2 and "http://host:port" in bad.stderr
