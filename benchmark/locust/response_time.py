"""Scenario 1, response time: one user, one request per second (constant pacing)."""

from locust import constant_pacing

from benchmark.locust.common import PredictUser


class SingleUser(PredictUser):
    wait_time = constant_pacing(1)
