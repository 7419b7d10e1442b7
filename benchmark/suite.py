"""The comparison, in order: verify, warm up, then each experiment of the registry (benchmark/experiments); the report.

Every run writes a new folder; an interrupted or failed run keeps what it measured and is marked
incomplete in its manifest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from api_common.contract import CHAINS
from benchmark.experiments import Context, get, main_job
from benchmark.profiles import Profile
from benchmark.progress import Progress
from benchmark.rundir import Run, manifest, new_run_dir
from benchmark.snapshot import locust_processes, scrape_metrics, settings_snapshot
from benchmark.verify import verify, warm_up
from lab.control import metrics_folder, state_file
from lab.settings import LabSettings
from lab.stack import Stack

VERIFY_S = 15.0  # verification and the warm-up, both chains


def run(
    stack: Stack,
    lab: LabSettings,
    profile: Profile,
    experiments: tuple[str, ...] = (),
    progress: Callable[[str], None] | Progress = print,
    label: str = "run",
) -> Path:
    """Run ``experiments`` (default: the main job's) against the running ``stack``; return the run folder.
    ``progress`` hears one line per step, each with the time left as planned (``benchmark.progress``)."""
    experiments = experiments or main_job()
    chosen = [get(name) for name in experiments]
    progress = Progress.of(progress)
    progress.plan([("verify", VERIFY_S)] + [(exp.name, exp.expected_s(profile)) for exp in chosen])
    path = new_run_dir(lab.results_dir, label)
    options = profile.as_dict() | {
        "profile": profile.name,
        "experiments": list(experiments),
        "locust_processes": locust_processes(),
        "targets": {chain: stack.scoring(chain).url for chain in CHAINS},
        "remote": [chain for chain in CHAINS if stack.remote(chain)],
    }
    run_ = Run(path, manifest(settings_snapshot(stack), options))
    # The processes measured, as the lab recorded them (PID, process group, command line).
    run_.manifest["processes"] = [asdict(r) for r in state_file(lab).read()]
    run_.save()
    progress(f"run folder: {path}")
    try:
        with run_.recording():
            t = time.monotonic()
            progress.begin("verify")
            progress("verifying every endpoint")
            run_.step_done("verify", time.monotonic() - t, checks=verify(stack))
            warm_up(stack)
            ctx = Context(stack, lab, profile, path, progress)
            for i, exp in enumerate(chosen, 1):
                t = time.monotonic()
                progress.begin(exp.name)
                progress(f"experiment {i}/{len(chosen)}: {exp.title}")
                run_.step_done(exp.name, time.monotonic() - t, **exp.run(ctx))
            scrape_metrics(stack, path / "metrics", folders=lambda name: metrics_folder(lab, name))
    finally:
        progress.close()
        from benchmark.report.build import build  # matplotlib: loaded when the report is built

        build(path)
    return path
