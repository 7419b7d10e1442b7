"""Scenario 4, stress: far more users than the chain can serve, spawned gradually (from the CLI)."""

from benchmark.locust.common import PACING_S, PredictUser, paced


class PacedUser(PredictUser):
    wait_time = paced(PACING_S)
