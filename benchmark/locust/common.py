"""The user every scenario shares, and a recorder that keeps every request's raw timing.

Locust's own CSVs hold aggregates; the lab also keeps one line per request (start time, latency,
outcome, Server-Timing) so the report can cut the run into steps and percentiles itself.
Configured through environment variables set by the runner (LAB_*).
"""

from __future__ import annotations

import os
import random
import time

import gevent
from locust import FastHttpUser, events, task

from api_common.contract import SAMPLE, predict_path

PACING_S = 1.0  # each user sends one request per second: the offered load in req/s is the user count
_raw = {"file": None}


def paced(period: float):
    """One request every ``period`` seconds per user, each user at its own random phase.

    Locust's ``constant_pacing`` counts from the user's start, so every user spawned in one tick
    fires in the same instant, every period, forever: a burst of N requests then measures a queue
    of N, not the load (seen here: p50 2.5x the server time at half the sync chain's capacity).
    This keeps a per-user schedule instead; a user that fell behind sends at once, without bursts.
    """

    def wait(user) -> float:
        now = time.perf_counter()
        due = getattr(user, "_lab_due", None)
        due = now + random.uniform(0, period) if due is None else max(due + period, now)
        user._lab_due = due
        return due - now

    return wait


class PredictUser(FastHttpUser):
    """Posts one prediction for a random stored entity to the chain under test."""

    abstract = True
    network_timeout = float(os.environ.get("LAB_NETWORK_TIMEOUT_S", "30"))
    connection_timeout = float(os.environ.get("LAB_NETWORK_TIMEOUT_S", "30"))
    path = os.environ.get("LAB_PREDICT_PATH", predict_path("async"))
    entities = int(os.environ.get("LAB_ENTITIES", "10000"))

    def on_start(self) -> None:
        gevent.sleep(random.uniform(0, PACING_S))  # the first request too, at a random phase

    @task
    def predict(self) -> None:
        body = {"entity_id": str(random.randrange(self.entities)), "features": SAMPLE}
        with self.client.post(self.path, json=body, name="predict", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")


@events.init.add_listener
def _open_raw(environment, **_kw) -> None:
    path = os.environ.get("LAB_RAW_PREFIX")
    if path and _raw["file"] is None:
        _raw["file"] = open(f"{path}-{os.getpid()}.csv", "w", buffering=1 << 16)  # noqa: SIM115
        _raw["file"].write("start,response_ms,ok,status,server_timing\n")


@events.request.add_listener
def _record(start_time=None, response_time=None, response=None, exception=None, **_kw) -> None:
    out = _raw["file"]
    if out is None or start_time is None:
        return
    status = getattr(response, "status_code", 0) or 0
    timing = ""
    if response is not None and getattr(response, "headers", None):
        timing = (response.headers.get("server-timing") or "").replace(",", "|").replace(" ", "")
    ok = 1 if exception is None and status == 200 else 0
    out.write(f"{start_time:.4f},{response_time:.3f},{ok},{status},{timing}\n")


@events.cpu_warning.add_listener
def _cpu_warning(environment, cpu_usage, **_kw) -> None:
    path = os.environ.get("LAB_RAW_PREFIX")
    if path:
        with open(f"{path}-cpu-warnings.txt", "a") as f:
            f.write(f"{cpu_usage:.1f}\n")


@events.quitting.add_listener
def _close_raw(environment, **_kw) -> None:
    if _raw["file"] is not None:
        _raw["file"].close()
        _raw["file"] = None
