"""The original lab's locustfile, as its README ran it: ``HttpUser`` (python-requests), each user paced to one
request a second (``constant_pacing(1)``, counted from the user's start, so users spawned together send
together: a burst of all of them every second), the README's body. Kept verbatim in behaviour so the lab
can be held to its users' first test (tests/reliability/test_overload.py); the lab's own scenarios use
``FastHttpUser`` at random phases instead (benchmark/locust/common.py says why).

    locust -f benchmark/locust/original.py --headless -u 150 -r 150 -t 60s --host http://127.0.0.1:8001
"""

from __future__ import annotations

import os

from locust import HttpUser, constant_pacing, task

from api_common.contract import SAMPLE, predict_path

PATH = os.environ.get("LAB_PREDICT_PATH", predict_path("async"))


class OriginalUser(HttpUser):
    wait_time = constant_pacing(1)

    @task
    def predict(self) -> None:
        self.client.post(PATH, json=SAMPLE, headers={"accept": "application/json"})
