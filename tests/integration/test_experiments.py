"""The experiments harness on tiny durations against a real stack: files, report, verification, SIGINT."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time

import pytest

from benchmark import suite
from benchmark.loadgen import capacity, search, stats
from benchmark.profiles import QUICK
from benchmark.render.tables import headline
from benchmark.report.build import build
from benchmark.report.summary import summarise_run
from benchmark.verify import VerificationError, verify
from lab import control, processes
from tests.conftest import lab_settings, make_stack, start
from tests.integration.test_stack import stack_env

pytestmark = pytest.mark.integration

TINY = QUICK.with_options(
    response_time_s=3, ramp_max_users=12, ramp_rate=4, ramp_step_users=4, max_performance_s=6,
    stress_users=20, stress_rate=20, stress_s=3, timeit_min_calls=1, timeit_max_calls=2, timeit_repetitions=2,
    capacity_probe_s=2, capacity_budget_s=16,
)  # fmt: skip


def profiled_stack(profile_dir=None):
    def on(name: str) -> dict:
        folder = {"profile_dir": str(profile_dir / name)} if profile_dir else {}
        return {"workers": 1, "profiling": True} | folder

    return make_stack(
        **{n.replace("-", "_"): on(n) for n in ("model-sync", "scoring-sync", "model-async", "scoring-async")}
    )


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One run of every experiment, on tiny durations, against a stack with profiling on."""
    tmp = tmp_path_factory.mktemp("exp")
    stack = profiled_stack(tmp / "profiles")
    lab = lab_settings(tmp)
    start(stack, lab)
    try:
        path = suite.run(stack, lab, TINY, progress=lambda *_: None)
        yield stack, lab, path
    finally:
        control.down(lab, log=lambda *_: None)


def test_every_experiment_writes_its_files(tiny_run):
    _, _, run = tiny_run
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["complete"] is True
    assert set(manifest["steps"]) == {"verify", "profile", "timeit", "capacity", "locust"}
    prof = json.loads((run / "profiling" / "index.json").read_text())
    assert prof["server_side"] is True
    for chain in ("sync", "async"):
        for profiler in ("pyinstrument", "yappi"):
            files = prof["files"][f"{chain}-{profiler}"]
            assert any("-client-" in f for f in files)
            assert any(f.startswith(f"{chain}-scoring-{chain}-{profiler}") for f in files)
            assert any(f.startswith(f"{chain}-model-{chain}-{profiler}") for f in files)
            assert all((run / "profiling" / f).exists() for f in files)
        assert prof["breakdown"][chain]["total"] > 0
    assert (run / "timeit.csv").read_text().startswith("n,chain,mean_s,median_s,min_s,max_s")
    for chain in ("sync", "async"):
        for scenario in ("response_time", "load_ramp", "max_performance", "stress"):
            prefix = run / "locust" / f"{chain}-{scenario}"
            assert (run / "locust" / f"{chain}-{scenario}.html").exists()
            assert (run / "locust" / f"{chain}-{scenario}_stats.csv").exists()
            assert list((run / "locust").glob(f"{prefix.name}-requests-*.csv"))
    for name in ("report.html", "summary.md", "summary.json", "plots/throughput.png", "plots/timeit.png"):
        assert (run / name).exists(), name
    html = (run / "report.html").read_text()
    assert "data:image/png;base64," in html and "Little&#x27;s law, sync chain" in html
    # The answer comes first: the verdict, with the plot of latency against offered load.
    assert html.index("<h2>Verdict</h2>") < html.index("<h2>Summary per chain</h2>")
    assert (run / "plots" / "capacity_curve.png").exists() and "capacity at p99 &lt;= 250 ms" in html
    assert "<details><summary>Load ramp, step by step</summary>" in html


def test_summary_has_both_chains_figures(tiny_run):
    _, _, run = tiny_run
    summary = json.loads((run / "summary.json").read_text())
    for chain in ("sync", "async"):
        c = summary["chains"][chain]
        assert c["single_p50_ms"] > 40  # at least one simulated model call
        assert c["max_rps"] > 0 and c["peak_rss_mb"] > 0
        # The ramp was cut into steps and judged. Its tiny steps (a second, a few requests each) decide the
        # breaking point on noise, and a one-worker sync chain on a busy machine can be behind from its first
        # step (CI: 4 of 5 req/s at 12 users): then the summary says so instead of naming a user count.
        assert summary["steps"][chain] and c["breaking_reason"]
        assert c["breaking_users"] is not None or c["breaking_reason"].startswith("already broken at the first step")
    assert summary["littles_bound_sync"] > 0


def test_report_rebuilds_from_the_saved_folder(tiny_run, tmp_path):
    _, _, run = tiny_run
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    for name in ("report.html", "summary.md", "summary.json"):
        (copy / name).unlink()
    shutil.rmtree(copy / "plots")
    build(copy)
    assert json.loads((copy / "summary.json").read_text()) == json.loads((run / "summary.json").read_text())
    assert (copy / "plots" / "latency.png").exists()


def test_a_failing_endpoint_is_caught_before_any_load(tmp_path):
    stack = profiled_stack()
    lab = lab_settings(tmp_path)
    start(stack, lab)
    try:
        model = next(r for r in control.state_file(lab).read() if r.name == "model-async")
        processes.stop(model)
        with pytest.raises(VerificationError, match="model-async"):
            verify(stack)
        with pytest.raises(VerificationError):
            suite.run(stack, lab, TINY, progress=lambda *_: None)
        run = next(lab.results_dir.iterdir())
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["complete"] is False and "VerificationError" in manifest["incomplete_reason"]
        assert not (run / "locust").exists() and not (run / "timeit.csv").exists()
    finally:
        control.down(lab, log=lambda *_: None)


def test_sigint_keeps_partial_results_and_leaves_no_process(tmp_path):
    stack = profiled_stack()
    env = stack_env(stack, tmp_path) | {"LAB_RESULTS_DIR": str(tmp_path / "results")}
    lab = lab_settings(tmp_path)
    start(stack, lab)
    try:
        cmd = [sys.executable, "-m", "cli", "locust", "--response-time-s", "30"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        results = tmp_path / "results"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(results.glob("*/locust/sync-response_time-requests-*.csv")):
            time.sleep(0.2)
        time.sleep(3)  # let it measure something
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 130, out
        run = next(results.iterdir())
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["complete"] is False and "SIGINT" in manifest["incomplete_reason"]
        assert (run / "report.html").exists() and "INCOMPLETE RUN" in (run / "report.html").read_text()
        assert (run / "locust" / "sync-response_time-resources.csv").exists()
        leftover = subprocess.run(["pgrep", "-f", str(run)], capture_output=True, text=True).stdout.split()
        assert leftover == [], "a Locust process of this run is still alive"
        # The stack it did not start is left running.
        assert all(processes.alive(r) for r in control.state_file(lab).read())
    finally:
        control.down(lab, log=lambda *_: None)


def test_capacity_interleaves_the_two_chains(tiny_run):
    # One search per chain, a probe at a time in shuffled rounds: every chain's first probe runs before any
    # chain's second (run one after the other, the first chain's second probe would come before the other's first).
    _, _, run = tiny_run
    started = {}
    for chain in ("sync", "async"):
        probes = json.loads((run / "loadgen" / chain / "capacity.json").read_text())["probes"]
        started[chain] = sorted(p["started_at"] for p in probes)
    assert any(len(s) >= 2 for s in started.values())
    assert max(s[0] for s in started.values()) < min(s[1] for s in started.values() if len(s) >= 2)


def test_a_capacity_run_sets_earlier_runs_of_the_same_stack_beside_its_figure(tiny_run):
    # The tiny run of every experiment, then a capacity run against the same stack: the second records the
    # first's figures as a repeat (same code, settings, machine and capacity options) and says how they fall.
    stack, lab, first = tiny_run
    second = suite.run(stack, lab, TINY, experiments=("capacity",), progress=lambda *_: None, label="capacity")
    earlier = json.loads((second / "loadgen" / "earlier.json").read_text())
    assert [r["run"] for r in earlier] == [first.name]
    figures = {}
    for chain in ("sync", "async"):
        data = json.loads((first / "loadgen" / chain / "capacity.json").read_text())
        if data["qps"]:  # the tiny budget does not always bracket the bound
            figures[chain] = [data["qps"], data["low"], data["high"]]
    assert earlier[0]["capacity_qps"] == figures
    lines = headline(summarise_run(second))
    assert any(line.startswith("earlier runs of the same code") for line in lines) == bool(figures)


def test_rounds_interleave_searches_on_a_real_chain_and_pair_their_ratio(tiny_run, tmp_path):
    """Two searches of the async chain side by side, in two rounds: every probe of round 1 runs before any probe of
    round 2, every probe lasts the queries its verdict needs, and their ratio, paired by round, carries a verdict."""
    stack, _, _ = tiny_run
    url = stack.scoring("async").predict_url
    searches = {
        name: capacity.Search(url, 250, 1, tmp_path / name, budget_s=120, start_qps=100,
                              entities=stack.redis.entities, progress=lambda *_: None, label=name, rounds=2)
        for name in ("a", "b")
    }  # fmt: skip
    lefts: list[float] = []  # what the searches said they had left, before each probe (a long command's ETA)
    found = capacity.interleaved(searches, on_left=lefts.append)
    probes = [p for cap in found.values() for p in cap.probes]
    assert len(lefts) >= len(probes) and all(x >= 0 for x in lefts)  # once a probe, and as each bracket closes
    assert lefts[-1] <= max(p.duration_s for p in probes) + search.PROBE_OVERHEAD_S  # the last probe's own time
    times = {r: [p.started_at for cap in found.values() for p in cap.probes if p.round == r] for r in (0, 1, 2)}
    assert all(times.values()), {r: len(t) for r, t in times.items()}
    assert max(times[1]) < min(times[2]) and max(times[0]) < min(times[1])
    for cap in found.values():
        assert cap.rounds == 2 and {p.round for p in cap.probes} == {0, 1, 2}
        assert all(p.queries >= stats.queries_needed(0) for p in cap.probes)
    ratio = found["a"].ratio_to(found["b"])
    assert ratio is None or (ratio["verdict"] in stats.VERDICTS and ratio["rounds"] == 2)
