"""How long and how hard each experiment runs: the full profile and the quick one ``make run`` uses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

MAX_PERF_SPAWN_S = 2.0  # max performance spawns its users within this time; the report leaves it out
MIN_MEASURED_HOLD_S = 3.0  # what is left of the hold after the spawn must be at least this long


class ProfileError(ValueError):
    """An option that would make an experiment measure nothing."""


@dataclass(frozen=True)
class Profile:
    name: str
    response_time_s: float = 100
    ramp_max_users: int = 300
    ramp_rate: float = 1.0  # users added per second
    ramp_step_users: int = 10  # the report cuts the ramp into steps of this many users
    max_performance_s: float = 300
    stress_users: int = 500
    stress_rate: float = 5.0
    stress_s: float = 100
    timeit_min_calls: int = 1
    timeit_max_calls: int = 30
    timeit_repetitions: int = 20
    latency_bound_ms: float = 1000.0
    # Experiment 4: LoadGen probes, open loop.
    capacity_bound_ms: float = 250.0  # p99 bound of "capacity at p99 <= bound"
    capacity_probe_s: float = 30.0  # a bracket probe at least; refinement probes twice as long (longer when
    # the queries a verdict needs take longer at the probe's load: benchmark.loadgen.search.probe_seconds)
    capacity_rounds: int = 5  # rounds of refinement, every chain's probes interleaved in each (ratios pair by round)
    capacity_budget_s: float = 900.0  # per chain, a cap: the search stops when a whole round no longer fits
    # LoadGen on the last core, the chain under test on the others (os.sched_setaffinity). Off by default:
    # measured on 2 cores in doc/NOTEBOOK.md ("Pinning").
    capacity_pin: bool = False
    # The options experiments own (benchmark.experiments.Option), by name: not fields of every profile.
    own: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.max_performance_s < MAX_PERF_SPAWN_S + MIN_MEASURED_HOLD_S:
            raise ProfileError(
                f"max performance must hold at least {MAX_PERF_SPAWN_S + MIN_MEASURED_HOLD_S:.0f} s: its first "
                f"{MAX_PERF_SPAWN_S:.0f} s spawn the users and are left out of the figures "
                f"(got {self.max_performance_s:g} s)"
            )
        positive = ("response_time_s", "ramp_max_users", "ramp_rate", "ramp_step_users", "stress_users",
                    "stress_rate", "stress_s", "timeit_min_calls", "timeit_repetitions", "latency_bound_ms",
                    "capacity_bound_ms", "capacity_probe_s", "capacity_rounds", "capacity_budget_s")  # fmt: skip
        for name in positive:
            if not getattr(self, name) > 0:
                raise ProfileError(f"{name.replace('_', ' ')} must be positive (got {getattr(self, name)})")
        if self.timeit_max_calls < self.timeit_min_calls:
            raise ProfileError("timeit max calls must not be under min calls")

    @property
    def ramp_duration_s(self) -> float:
        return self.ramp_max_users / self.ramp_rate

    def with_options(self, **options) -> Profile:
        given = {k: v for k, v in options.items() if v is not None}
        shared = {f.name for f in fields(self)} - {"own"}
        own = self.own | {k: v for k, v in given.items() if k not in shared}
        return replace(self, own=own, **{k: v for k, v in given.items() if k in shared})

    def option(self, name: str) -> Any:
        """An experiment's own option (``benchmark.experiments.Option``)."""
        return self.own[name]

    def as_dict(self) -> dict:
        data = asdict(self)
        return data | data.pop("own") | {"ramp_duration_s": self.ramp_duration_s}


FULL = Profile("full")
# Under ten minutes for both chains on a 2-core machine (make run with three capacity rounds: 8 min 42 s with
# the virtualenv installed, 2026-12-03; before the rounds, 8 min 48 s to 9 min 51 s from a fresh clone).
# A max-performance hold that breaks the bound is held again lower, up to twice per chain: at
# 20 s a hold, a make run whose holds stepped down three times took 9 min 51 s, so a fourth would have passed ten
# minutes; at 15 s, four take a minute (a hold at 100 users still measures about 1,300 requests).
QUICK = Profile(
    "quick",
    response_time_s=15,
    ramp_max_users=200,
    ramp_rate=4.0,
    max_performance_s=15,
    stress_users=500,
    stress_rate=25.0,
    stress_s=30,
    timeit_min_calls=1,
    timeit_max_calls=10,
    timeit_repetitions=3,
    capacity_probe_s=4,
    capacity_rounds=3,  # the fewest a two-level bootstrap can draw rounds from; make run must end within 10 minutes
    capacity_budget_s=300,
)
PROFILES = {"full": FULL, "quick": QUICK}
