"""Scenario 2, load test: users ramp up at a fixed rate, each sending one request per second.

The offered load in requests per second equals the user count, so the step where throughput
stops following the users is the chain's breaking point (found by the report, not here).
"""

import os

from locust import LoadTestShape

from benchmark.locust.common import PACING_S, PredictUser, paced


class PacedUser(PredictUser):
    wait_time = paced(PACING_S)


class Ramp(LoadTestShape):
    max_users = int(os.environ.get("LAB_RAMP_MAX_USERS", "300"))
    rate = float(os.environ.get("LAB_RAMP_RATE", "1"))
    duration = float(os.environ.get("LAB_RAMP_DURATION_S", "300"))

    def tick(self):
        elapsed = self.get_run_time()
        if elapsed >= self.duration:
            return None
        return min(self.max_users, 1 + int(elapsed * self.rate)), max(self.rate, 1)
