"""Scenario 3, max performance: the breaking-point user count held (users and time from the CLI)."""

from benchmark.locust.common import PACING_S, PredictUser, paced


class PacedUser(PredictUser):
    wait_time = paced(PACING_S)
