"""How long and how hard each experiment runs: the full profile and the quick one ``make run`` uses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace


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
    # Experiment 4 (lab compare): LoadGen probes, open loop.
    capacity_bound_ms: float = 250.0  # p99 bound of "capacity at p99 <= bound"
    capacity_probe_s: float = 60.0
    capacity_max_probes: int = 8

    @property
    def ramp_duration_s(self) -> float:
        return self.ramp_max_users / self.ramp_rate

    def with_options(self, **options) -> Profile:
        return replace(self, **{k: v for k, v in options.items() if v is not None})

    def as_dict(self) -> dict:
        return asdict(self) | {"ramp_duration_s": self.ramp_duration_s}


FULL = Profile("full")
# About five minutes for both chains on a 2-core machine.
QUICK = Profile(
    "quick",
    response_time_s=15,
    ramp_max_users=200,
    ramp_rate=4.0,
    max_performance_s=20,
    stress_users=500,
    stress_rate=25.0,
    stress_s=30,
    timeit_min_calls=1,
    timeit_max_calls=10,
    timeit_repetitions=3,
    capacity_probe_s=5,
    capacity_max_probes=7,
)
PROFILES = {"full": FULL, "quick": QUICK}
