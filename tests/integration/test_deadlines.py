"""Deadlines end to end on real servers: a model API drops the work whose caller has already given up."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from api_common import deadline
from lab import control
from tests.conftest import BUSY_MARGIN_S, lab_settings, make_stack

pytestmark = pytest.mark.integration

LATENCY_S = 0.4
BUDGET_S = 0.6  # the second request in line starts at 0.4 s, in time; the rest would start at 0.8 s or later
CALLERS = 6


def test_a_gunicorn_worker_drops_requests_that_waited_past_their_budget_in_its_backlog(tmp_path):
    ms = LATENCY_S * 1000
    stack = make_stack(model_sync={"workers": 1, "latency_min_ms": ms, "latency_max_ms": ms})
    model = stack.model("sync")
    lab = lab_settings(tmp_path)
    records = control.start(stack, lab, ["model-sync"], log=lambda *_: None)
    try:
        headers = {deadline.HEADER: str(int(BUDGET_S * 1000))}

        def call(_):
            return httpx.post(model.predict_url, json=[1.0], headers=headers, timeout=30)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(CALLERS) as pool:
            replies = list(pool.map(call, range(CALLERS)))
        elapsed = time.perf_counter() - t0
    finally:
        control.stop(lab, records)
    served = [r for r in replies if r.status_code == 200]
    dropped = [r for r in replies if r.status_code == 504 and r.json()["error"] == "deadline_exceeded"]
    assert len(served) + len(dropped) == CALLERS
    assert served and len(dropped) >= CALLERS - 3
    # Served one by one, the six would take 6 x 0.4 s; dropped unstarted, the line clears after two.
    assert elapsed < 2 * LATENCY_S + BUSY_MARGIN_S < CALLERS * LATENCY_S
