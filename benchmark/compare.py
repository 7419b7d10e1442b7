"""``lab compare``: variants side by side in one run, each measured with the same load.

Each variant gets its own chain (model API, scoring handler) on free ports beside a shared Redis,
is verified, warmed up and measured by the Locust scenarios (response time, load ramp, max
performance), one variant after the other, and left running. Then the capacity searches of all of
them run interleaved, round by round, each round's probes of every variant in a shuffled order, so that the
drift of a shared machine hits every variant alike and the ratios between them, paired by round, survive it;
then every chain is stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from api_common.ports import free_port
from benchmark.loadgen import capacity
from benchmark.loadgen import search as loadgen_search
from benchmark.locust import scenarios
from benchmark.profiles import Profile
from benchmark.progress import VARIANT_START_S, Progress
from benchmark.report.build import build
from benchmark.rundir import Run, manifest, new_run_dir, write_json
from benchmark.snapshot import locust_processes, scrape_metrics, settings_snapshot
from benchmark.verify import verify, warm_up
from lab import control, processes, variants
from lab.ports import service_ports
from lab.settings import LabSettings
from lab.stack import Stack
from lab.variants import Variant


def _stack(variant: Variant, redis_port: int) -> Stack:
    return variants.stack_for(variant, service_ports(redis_port))


def measure(
    variant: Variant, stack: Stack, records: list, profile: Profile, out: Path, progress: Callable[[str], None]
) -> dict:
    """Locust against one running variant, its CPU and RSS sampled from ``records`` (its own processes and
    Redis: the variants measured before it are still running, for the interleaved capacity search, and must
    not be counted); returns what the comparison needs to know."""
    bp = scenarios.up_to_max_performance(
        stack, variant.chain, profile, out / "locust", records, locust_processes(), progress
    )
    return {"breaking_users": bp.users, "breaking_rps": bp.rps}


def search(variant: Variant, stack: Stack, profile: Profile, out: Path, breaking_rps: float | None, progress):
    """The capacity search of one running variant, started a little under its breaking point."""
    return capacity.Search(
        stack.scoring(variant.chain).predict_url, profile.capacity_bound_ms, profile.capacity_probe_s,
        out / "loadgen", budget_s=profile.capacity_budget_s, start_qps=max(1.0, 0.8 * (breaking_rps or 10)),
        entities=stack.redis.entities, progress=progress, label=f"{variant.name} ", rounds=profile.capacity_rounds,
    )  # fmt: skip


def run(
    names: list[str], lab: LabSettings, profile: Profile, progress: Callable[[str], None] | Progress = print,
    sweep: str | None = None, grid: dict[str, tuple] | None = None,
) -> Path:  # fmt: skip
    """Compare the variants ``names`` (or presets), then ``sweep`` at each point of ``grid`` (default: the
    scoring worker counts); returns the run folder. ``progress`` hears one line per step with the time left."""
    grid = grid or {"workers": variants.SWEEP_WORKERS}
    points = variants.sweep(sweep, grid) if sweep else []
    chosen = variants.expand(names) + points
    progress = Progress.of(progress)
    progress.plan([(v.name, VARIANT_START_S + scenarios.expected_s(profile, stress_too=False)) for v in chosen]
                  + [("capacity", len(chosen) * loadgen_search.expected_s(profile))])  # fmt: skip
    path = new_run_dir(lab.results_dir, "compare")
    options = profile.as_dict() | {
        "profile": profile.name, "variants": [v.name for v in chosen], "kind": "compare",
        # What each variant was, as the report will describe it (the registry may change after the run).
        "described": {v.name: asdict(v.describe()) for v in chosen},
        "sweep": {"variant": sweep, "axes": {a: list(v) for a, v in grid.items()}, "points": [p.name for p in points]}
        if sweep else None,
    }  # fmt: skip
    redis_port = free_port()
    snapshots = {v.name: settings_snapshot(_stack(v, redis_port)) for v in chosen}
    run_ = Run(path, manifest(snapshots, options))
    # The variants' processes are recorded apart from the user's own stack, which may be running.
    vlab = lab.model_copy(update={"state_dir": lab.state_dir / "compare"})
    control.cleanup_stale(vlab, progress)
    progress(f"run folder: {path}")
    try:
        with run_.recording():
            first = _stack(chosen[0], redis_port)
            control.start(first, vlab, ["redis"], log=lambda *_: None)  # loads the entities
            statuses, searches, stacks = {}, {}, {}
            for i, v in enumerate(chosen, 1):
                progress.begin(v.name)
                progress(f"[{i}/{len(chosen)}] {v.name}: {v.change}")
                out = path / "variants" / v.name
                statuses[v.name], stack = _one(v, redis_port, vlab, profile, out, progress)
                if stack is not None:
                    stacks[v.name] = (v, stack)
                    searches[v.name] = search(v, stack, profile, out, statuses[v.name].get("breaking_rps"), progress)
                write_json(out / "status.json", statuses[v.name])
            if searches:
                progress.begin("capacity", len(searches) * loadgen_search.expected_s(profile))
                progress(f"capacity at p99 <= {profile.capacity_bound_ms:.0f} ms, {len(searches)} variants interleaved"
                         f", {profile.capacity_rounds} rounds")  # fmt: skip
                for name, cap in capacity.interleaved(searches, on_left=progress.left).items():
                    progress(f"    {name}: {cap.text()}")
                    statuses[name] |= {"capacity_qps": cap.qps, "capacity_seconds": cap.seconds}
                    write_json(path / "variants" / name / "status.json", statuses[name])
            for name, (v, stack) in stacks.items():  # batch sizes formed, requests served: after all the load
                scrape_metrics(
                    stack,
                    path / "variants" / name / "metrics",
                    chains=(v.chain,),
                    folders=lambda svc, name=name: control.metrics_folder(vlab, svc, name),
                )
    finally:
        progress.close()
        control.down(vlab, log=lambda *_: None)
        build(path)
    return path


def _one(
    v: Variant, redis_port: int, vlab: LabSettings, profile: Profile, out: Path, progress
) -> tuple[dict, Stack | None]:  # fmt: skip
    """Start one variant's chain, verify, warm up, measure with Locust; the chain is left running."""
    if v.missing():
        reason = f"skipped: {v.missing_text()}"
        progress(f"    {reason}")
        return {"skipped": reason}, None
    t0 = time.monotonic()
    stack = _stack(v, redis_port)
    try:
        records = control.start(stack, vlab, stack.chain_names(v.chain), log=lambda *_: None, instance=v.name)
    except control.StartupError as exc:  # its row says why; the other variants are still measured
        reason = "did not start: " + " ".join(str(exc).split())[:400]
        progress(f"    {reason}")
        return {"skipped": reason}, None
    try:
        verify(stack, chains=(v.chain,))
        warm_up(stack, chains=(v.chain,))
        redis = [r for r in control.state_file(vlab).read() if r.name == "redis"]
        result = measure(v, stack, redis + records, profile, out, progress)
        result |= processes.memory(records, f"scoring-{v.chain}")
        result |= processes.tier_rss(records, f"model-{v.chain}")
    except BaseException:
        control.stop(vlab, records)
        raise
    return {"seconds": round(time.monotonic() - t0, 1), **result}, stack
