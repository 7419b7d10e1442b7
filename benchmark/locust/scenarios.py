"""The Locust scenarios in their order: response time, load ramp, then the breaking point held.

Shared by ``lab run`` (which adds the stress test) and ``lab compare``, so both measure alike.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from benchmark import analysis
from benchmark.locust import runner
from benchmark.locust.runner import Scenario
from benchmark.profiles import MAX_PERF_SPAWN_S, Profile
from lab.processes import Record
from lab.stack import Stack


def up_to_max_performance(
    stack: Stack, chain: str, profile: Profile, out: Path, records: list[Record], locust_processes: int,
    progress: Callable[[str], None], sustainable_rps: float | None = None,
) -> analysis.BreakingPoint:  # fmt: skip
    """Scenarios 1 to 3 against ``chain``; returns the breaking point found on the ramp.

    Max performance holds ``sustainable_rps`` when the open-loop capacity found it (paced users send
    one request a second each), else the load the ramp's breaking step served. A hold at the capacity
    whose p99 passes its bound is kept under the name ``*-over-bound`` (then ``*-over-bound-2``) and held
    again at ``STEP_DOWN`` of that load, up to ``HOLDS`` holds in all: Locust, a heavier client than
    LoadGen's, shares the cores with the chain.
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

    def hold(users: int) -> Path:  # spawned in MAX_PERF_SPAWN_S seconds; the report leaves that spawn out
        spawn_rate = max(users / MAX_PERF_SPAWN_S, 1)
        return scenario(Scenario("max_performance", users, spawn_rate, profile.max_performance_s))

    prefix = hold(users)
    for attempt in range(1, HOLDS):
        held = analysis.summarise(analysis.held_requests(prefix))
        if not (sustainable_rps and users > 1 and held.p99_ms > profile.capacity_bound_ms):
            break
        progress(f"    {chain}: p99 {held.p99_ms:.0f} ms over {profile.capacity_bound_ms:.0f} ms at {users} users; "
                 f"held again at {STEP_DOWN:.0%} of them")  # fmt: skip
        set_aside(prefix, over_bound(attempt))
        users = max(1, int(users * STEP_DOWN))
        prefix = hold(users)
    return bp


SCENARIO_OVERHEAD_S = 3.0  # Locust's start and its files, per scenario


def expected_s(profile: Profile, stress_too: bool = True) -> float:
    """One chain's scenarios at ``profile``: response time, ramp, one max-performance hold, and the stress test
    (``lab run``; ``lab compare`` has none)."""
    plan = [profile.response_time_s, profile.ramp_duration_s, profile.max_performance_s]
    plan += [profile.stress_s] if stress_too else []
    return sum(plan) + SCENARIO_OVERHEAD_S * len(plan)


STEP_DOWN = 0.8
# At most this many holds: the capacity's lower end, then STEP_DOWN of the one before. A make run's async chain broke
# the bound at 150 and at 120 users (Locust at 120 req/s took a core from it), so one step down was not always enough.
HOLDS = 3
OVER_BOUND = "-over-bound"  # suffix of a max-performance hold that broke the bound and was held again lower


def over_bound(attempt: int) -> str:
    """The suffix of the ``attempt``-th hold set aside: ``-over-bound``, then ``-over-bound-2``..."""
    return OVER_BOUND if attempt == 1 else f"{OVER_BOUND}-{attempt}"


def set_aside(prefix: Path, suffix: str) -> None:
    """Rename every file of the run at ``prefix`` with ``suffix`` after the prefix (kept, not overwritten);
    the files of holds set aside before stay as they are."""
    for path in prefix.parent.glob(f"{prefix.name}[-_.]*"):
        if not path.name.startswith((prefix.name + suffix, prefix.name + OVER_BOUND)):
            path.rename(path.with_name(prefix.name + suffix + path.name[len(prefix.name) :]))


def stress(
    stack: Stack, chain: str, profile: Profile, out: Path, records: list[Record], locust_processes: int,
    progress: Callable[[str], None],
) -> None:  # fmt: skip
    progress(f"    locust {chain}: stress ({profile.stress_s:.0f} s)")
    runner.run(stack, chain, Scenario("stress", profile.stress_users, profile.stress_rate, profile.stress_s), out,
               records, locust_processes)  # fmt: skip
