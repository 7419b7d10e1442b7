"""Scenario 3, max performance: the breaking-point user count held (users and time from the CLI)."""

from locust import constant_pacing

from benchmark.locust.common import PredictUser


class PacedUser(PredictUser):
    wait_time = constant_pacing(1)
