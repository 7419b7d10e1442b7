"""The Locust scenarios in their order: response time, load ramp, then the breaking point held.

Shared by ``lab run`` (which adds the stress test) and ``lab compare``, so both measure alike.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from benchmark.locust import runner
from benchmark.locust.runner import Scenario
from benchmark.profiles import MAX_PERF_SPAWN_S, Profile
from benchmark.report import analysis
from lab.processes import Record
from lab.stack import Stack


def up_to_max_performance(
    stack: Stack, chain: str, profile: Profile, out: Path, records: list[Record], locust_processes: int,
    progress: Callable[[str], None], sustainable_rps: float | None = None,
) -> analysis.BreakingPoint:  # fmt: skip
    """Scenarios 1 to 3 against ``chain``; returns the breaking point found on the ramp.

    Max performance holds ``sustainable_rps`` when the open-loop capacity found it (paced users send
    one request a second each), else the load the ramp's breaking step served.
    """

    def scenario(s: Scenario) -> Path:
        progress(f"    locust {chain}: {s.name} ({s.duration_s:.0f} s)")
        return runner.run(stack, chain, s, out, records, locust_processes)

    scenario(Scenario("response_time", 1, 1, profile.response_time_s))
    ramp_env = {
        "LAB_RAMP_MAX_USERS": str(profile.ramp_max_users),
        "LAB_RAMP_RATE": str(profile.ramp_rate),
        "LAB_RAMP_DURATION_S": str(profile.ramp_duration_s),
    }
    prefix = scenario(
        Scenario("load_ramp", profile.ramp_max_users, profile.ramp_rate, profile.ramp_duration_s, ramp_env)
    )
    _, bp = analysis.ramp(prefix, profile.ramp_step_users, profile.latency_bound_ms)
    progress(f"    {chain} breaking point: {bp.users} users, {bp.rps or 0:.0f} req/s ({bp.reason})")
    # Hold the load the chain was seen to serve: a step is 10 users wide, its top may be past capacity.
    users = max(1, min(bp.users, int(bp.rps))) if bp.users and bp.rps else profile.ramp_step_users
    if sustainable_rps:
        users = max(1, int(sustainable_rps))
    # Spawned in MAX_PERF_SPAWN_S seconds; the report leaves that spawn out of the figures.
    scenario(Scenario("max_performance", users, max(users / MAX_PERF_SPAWN_S, 1), profile.max_performance_s))
    return bp


def stress(
    stack: Stack, chain: str, profile: Profile, out: Path, records: list[Record], locust_processes: int,
    progress: Callable[[str], None],
) -> None:  # fmt: skip
    progress(f"    locust {chain}: stress ({profile.stress_s:.0f} s)")
    runner.run(stack, chain, Scenario("stress", profile.stress_users, profile.stress_rate, profile.stress_s), out,
               records, locust_processes)  # fmt: skip
