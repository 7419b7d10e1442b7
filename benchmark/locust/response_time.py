"""Scenario 1, response time: one user, one request per second (constant pacing)."""

from benchmark.locust.common import PACING_S, PredictUser, paced


class SingleUser(PredictUser):
    wait_time = paced(PACING_S)
