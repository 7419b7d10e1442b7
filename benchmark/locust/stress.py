"""Scenario 4, stress: far more users than the chain can serve, spawned gradually (from the CLI)."""

from locust import constant_pacing

from benchmark.locust.common import PredictUser


class PacedUser(PredictUser):
    wait_time = constant_pacing(1)
