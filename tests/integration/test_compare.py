"""``lab compare`` on tiny durations: LoadGen probes a real chain, the decomposition table builds from
the saved folder, and a missing optional server is skipped with its reason."""

from __future__ import annotations

import json
import shutil

import pytest

from benchmark import compare
from benchmark.loadgen import capacity
from benchmark.profiles import QUICK
from benchmark.report.build import build
from lab import variants
from tests.conftest import lab_settings

pytestmark = pytest.mark.integration

NAMES = ("async-floor", "async", "async-w1", "async-w2")  # two variants, then a sweep of the second

TINY = QUICK.with_options(
    response_time_s=3, ramp_max_users=12, ramp_rate=6, ramp_step_users=4, max_performance_s=6,
    capacity_probe_s=2, capacity_budget_s=12,
)  # fmt: skip


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    lab = lab_settings(tmp_path_factory.mktemp("compare"))
    path = compare.run(
        ["async-floor", "async"], lab, TINY, progress=lambda *_: None, sweep="async", grid={"workers": (1, 2)}
    )
    return lab, path


def test_loadgen_probes_produce_capacity_figures(compared):
    _, run = compared
    for name in NAMES:
        cap = capacity.load(run / "variants" / name / "loadgen")
        assert cap is not None and cap.probes
        # The budget, plus one probe begun inside it (LoadGen stops at 3x its duration) and its settle.
        assert cap.seconds <= TINY.capacity_budget_s + 3 * TINY.capacity_probe_s + 60
        for probe in cap.probes:
            folder = run / "variants" / name / "loadgen" / probe.folder.split("/")[-1]
            result = json.loads((folder / "result.json").read_text())
            assert result["p99_ms"] > 0 and result["target_qps"] == pytest.approx(probe.target_qps, rel=1e-3)
            assert result["client_cpu_pct"] is not None and result["early_stopping"] in ("Yes", "No")
            # The client's own log of every query: about the target rate for the probe's duration.
            assert probe.queries == len((folder / "queries.csv").read_text().splitlines()) - 1
            assert probe.queries >= 0.5 * probe.target_qps * probe.duration_s
            assert probe.verdict in ("pass", "fail", "unsure")
            # The machine worked while LoadGen offered load (a share of all cores, so above 0 and at most 100).
            assert 0 < probe.machine_busy_pct <= 100 and 0 <= probe.machine_steal_pct < 100
            assert probe.speed_ms > 0
        assert cap.qps >= 0
        if cap.low is not None:
            assert cap.low <= cap.qps <= cap.high


def test_capacity_probes_of_the_variants_are_interleaved(compared):
    _, run = compared
    ends = sorted(
        (p.stat().st_mtime, name)
        for name in NAMES
        for p in (run / "variants" / name / "loadgen").glob("probe-*/result.json")
    )
    order = [name for _, name in ends]
    assert len(set(order)) == len(NAMES)
    # Not one variant's probes and then the other's: the variants alternate, round by round.
    switches = sum(1 for a, b in zip(order, order[1:], strict=False) if a != b)
    assert switches >= min(order.count(name) for name in NAMES)


def test_decomposition_table_builds_from_the_saved_folder(compared, tmp_path):
    _, run = compared
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    for name in ("report.html", "summary.md", "summary.json"):
        (copy / name).unlink()
    build(copy)
    summary = json.loads((copy / "summary.json").read_text())
    assert summary == json.loads((run / "summary.json").read_text())
    rows = {v["name"]: v for v in summary["variants"]}
    assert set(rows) == set(NAMES)
    for v in rows.values():
        assert v["single_p50_ms"] > 40 and v["capacity_qps"] is not None and v["cpu_ms_per_request"] > 0
        assert set(v["split_ms"]) >= {"redis", "model calls"}
        assert v["rss_per_worker_mb"] > 10  # a Python worker process holds more than 10 MiB
    md = (copy / "summary.md").read_text()
    assert "Variants, side by side" in md and "(x" in md  # ratio to the row before
    assert "## Verdict" in md and "Against each chain's default" in md
    assert "MLPerf Inference requires at least 600 s" in md
    # The floor: each async variant's figures above it, and the targets for the leanest async chain.
    assert rows["async-floor"]["floor"] and "p50_above_floor_ms" in rows["async"]
    targets = summary["lean_targets"]
    assert targets["floor"] == "async-floor" and targets["lean"] in NAMES and {"p50", "cpu"} <= set(targets)
    assert "p50 above floor ms" in md and "leanest async" in md
    # The sweep: one row per worker count, with the processes it ran (uvicorn with 2 workers adds a supervisor).
    sweep = {r["scoring_workers"]: r for r in summary["sweep"]}
    assert set(sweep) == {1, 2} and sweep[1]["scoring_processes"] == 1 and sweep[2]["scoring_processes"] == 3
    assert 0 < sweep[2]["uss_per_worker_mb"] <= sweep[2]["rss_per_worker_mb"]
    # Each variant's CPU and RSS count its own processes, not those of the variants still running beside it.
    assert rows["async-w2"]["peak_rss_mb"] < 3 * rows["async-floor"]["peak_rss_mb"]
    assert "Worker sweep: async" in md and (copy / "plots" / "sweep.png").stat().st_size > 1000


def test_no_process_is_left_behind(compared):
    lab, run = compared
    assert json.loads((run / "manifest.json").read_text())["complete"] is True
    state = lab.state_dir / "compare" / "stack.json"
    assert not state.exists() or json.loads(state.read_text())["processes"] == []


def test_a_variant_whose_server_is_missing_is_skipped_with_its_reason(tmp_path, monkeypatch):
    from lab import variants

    fake = variants.Variant("sync-fake", "sync", "needs a module that is not there", requires=("no_such_module_xyz",))
    monkeypatch.setitem(variants.VARIANTS, "sync-fake", fake)
    lab = lab_settings(tmp_path)
    run = compare.run(["sync-fake"], lab, TINY, progress=lambda *_: None)
    status = json.loads((run / "variants" / "sync-fake" / "status.json").read_text())
    said = "skipped: no_such_module_xyz, not installed (make venv installs them)"  # what it lacks, and how to get it
    assert status == {"skipped": said}
    assert said in (run / "summary.md").read_text()


FRONTIER = ("async", "async-queue", "async-batch-wait0-cap8", "async-batch-wait10-cap8")
SERVER = "async-bentoml-xgboost"  # a model server beside them: its own batching, counted by the lab


@pytest.fixture(scope="module")
def frontier(tmp_path_factory):
    """The default, the job queue, and dynamic batching at two waits: a sweep over batching settings."""
    lab = lab_settings(tmp_path_factory.mktemp("frontier"))
    grid = {"max_wait_ms": (0, 10), "max_batch_size": (8,)}
    names = ["async", "async-queue"] + ([] if variants.get(SERVER).missing() else [SERVER])
    return compare.run(names, lab, TINY, progress=lambda *_: None, sweep="async-batch", grid=grid)


def test_batching_frontier_and_batch_sizes_in_the_report(frontier):
    summary = json.loads((frontier / "summary.json").read_text())
    rows = {v["name"]: v for v in summary["variants"]}
    assert set(rows) - {SERVER} == set(FRONTIER)
    if SERVER in rows:  # its batch counts, read from its workers' files; its runtime's memory
        server = rows[SERVER]
        assert server["model_server"] == "bentoml" and server["batching"] and server["model_rss_mb"] > 0
        assert server["batches"]["calls"] > 10 and server["batches"]["items"] >= server["batches"]["calls"]
    # Each point runs its own settings, read back from the run's manifest.
    points = {(r["max_wait_ms"], r["max_batch_size"]): r for r in summary["sweep"]}
    assert set(points) == {(0, 8), (10, 8)}
    for r in points.values():
        assert r["vs_unbatched"]["name"] == "async" and r["capacity_qps"] is not None
    # The batch sizes formed, from the histogram scraped from each model API's /metrics after the load (how
    # many batches hold more than one item depends on the load: tests/integration/test_batching.py shows it).
    for name in ("async-batch-wait10-cap8", "async-queue"):
        formed = rows[name]["batches"]
        assert formed["calls"] > 100 and formed["items"] >= formed["calls"]  # Locust and LoadGen's predictions
        assert sum(formed["shares"].values()) == pytest.approx(1.0) and formed["shares"][">32"] == 0
    assert rows["async-queue"]["vs_unbatched"]["name"] == "async"
    # The default answers one prediction per model call, and counts only its own (each variant has its own
    # metrics folder: one shared folder added up the variants running side by side).
    assert rows["async"]["batches"]["mean"] == 1 and "vs_unbatched" not in rows["async"]
    md = (frontier / "summary.md").read_text()
    assert "Batching frontier: async-batch" in md and "Batch sizes formed" in md
    assert "Batching against the unbatched twin" in md and "batching against the same chain unbatched" in md
    assert (frontier / "plots" / "frontier.png").stat().st_size > 1000
