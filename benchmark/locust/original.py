"""The original lab's locustfile, as its README ran it: ``HttpUser`` (python-requests), each user paced to one
request a second (``constant_pacing(1)``, counted from the user's start, so users spawned together send
together: a burst of all of them every second), the README's body. Kept verbatim in behaviour so the lab
can be held to its users' first test (tests/reliability/test_overload.py); the lab's own scenarios use
``FastHttpUser`` at random phases instead (benchmark/locust/common.py says why). With ``LAB_REQUEST_LOG`` set,
every request's start, latency and outcome is also written there, one line each (Locust's own CSVs keep totals
only: a figure after the first seconds needs each request).

    locust -f benchmark/locust/original.py --headless -u 150 -r 150 -t 60s --host http://127.0.0.1:8001
"""

from __future__ import annotations

import os

from locust import HttpUser, constant_pacing, events, task

from api_common.contract import SAMPLE, predict_path

PATH = os.environ.get("LAB_PREDICT_PATH", predict_path("async"))
REQUEST_LOG = os.environ.get("LAB_REQUEST_LOG")

if REQUEST_LOG:
    _log = open(REQUEST_LOG, "a", buffering=1)  # noqa: SIM115 (open for the process's life, a line at a time)

    @events.request.add_listener
    def _record(start_time: float, response_time: float, exception: BaseException | None, **_) -> None:
        _log.write(f"{start_time:.3f},{response_time:.1f},{'fail' if exception else 'ok'}\n")


class OriginalUser(HttpUser):
    wait_time = constant_pacing(1)

    @task
    def predict(self) -> None:
        self.client.post(PATH, json=SAMPLE, headers={"accept": "application/json"})
