"""Run one Locust scenario headless against one chain, bounded in time, with resources sampled."""

from __future__ import annotations

import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.resources import Sampler
from lab import processes
from lab.processes import Record
from lab.stack import Stack

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Scenario:
    name: str  # response_time, load_ramp, max_performance, stress
    users: int
    spawn_rate: float
    duration_s: float
    env: dict[str, str] = field(default_factory=dict)

    @property
    def locustfile(self) -> Path:
        return HERE / f"{self.name}.py"

    @property
    def shaped(self) -> bool:
        return self.name == "load_ramp"


def command(scenario: Scenario, host: str, prefix: Path, locust_processes: int) -> list[str]:
    cmd = [
        sys.executable, "-m", "locust", "-f", str(scenario.locustfile), "--headless",
        "--host", host,
        "--csv", str(prefix), "--csv-full-history",
        "--html", f"{prefix}.html",
        "--logfile", f"{prefix}.log", "--loglevel", "INFO",
        "--exit-code-on-error", "0",
        "--stop-timeout", "5",
    ]  # fmt: skip
    if not scenario.shaped:
        cmd += [
            "-u",
            str(scenario.users),
            "-r",
            str(scenario.spawn_rate),
            "-t",
            f"{int(scenario.duration_s)}s",
        ]
    if locust_processes > 1:
        cmd += ["--processes", str(locust_processes)]
    return cmd


def run(
    stack: Stack,
    chain: str,
    scenario: Scenario,
    out: Path,
    chain_records: list[Record],
    locust_processes: int = 1,
) -> Path:
    """Run ``scenario`` against ``chain``; return the prefix of its files in ``out``."""
    prefix = out / f"{chain}-{scenario.name}"
    scoring = stack.scoring(chain)
    env = {
        **os.environ,
        "LAB_PREDICT_PATH": scoring.predict_url.removeprefix(scoring.url),
        "LAB_ENTITIES": str(stack.redis.entities),
        "LAB_RAW_PREFIX": f"{prefix}-requests",
        **scenario.env,
    }
    cmd = command(scenario, scoring.url, prefix, locust_processes)
    rec = processes.spawn(f"locust-{chain}-{scenario.name}", cmd, env, Path(f"{prefix}.stdout"), uuid.uuid4().hex)
    sampler = Sampler({"locust": [rec], chain: chain_records})
    sampler.start()
    # Every load run is bounded: past its duration plus a grace period the whole group is stopped.
    deadline = time.monotonic() + scenario.duration_s + 30
    try:
        while processes.leader_alive(rec) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        processes.stop(rec, timeout=10)
        processes.reap(rec)
        sampler.stop()
        sampler.write(Path(f"{prefix}-resources.csv"))
    return prefix
