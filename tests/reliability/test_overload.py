"""Twice the breaking point for 60 s: health checks keep answering, no connection breaks, what is not
served is refused cleanly by the overload policy, no worker is restarted, and the chains answer
normally within 2 s of the load stopping.

The soak test (the quick comparison repeated for ``LAB_SOAK_MINUTES``, RSS of every service compared)
is off unless that variable is set: it is long.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from api_common.contract import SAMPLE, predict_path
from benchmark import analysis, suite
from benchmark.locust import runner
from benchmark.locust.runner import Scenario
from benchmark.profiles import QUICK
from lab import control, processes
from tests.conftest import BUSY_MARGIN_S, lab_settings, make_stack, start
from tests.reliability.record import record

pytestmark = [pytest.mark.integration, pytest.mark.slow]
OVERLOAD_S = float(os.environ.get("LAB_OVERLOAD_S", "60"))
NETWORK_TIMEOUT_S = float(os.environ.get("LAB_NETWORK_TIMEOUT_S", "30"))  # Locust's, as the runner sets it
# A sync chain drains the queue it was left with (its users' last requests) at its own pace: at 2x its
# breaking point that is at most one round of users, about 1 s of work, plus the busy-machine margin.
DRAIN_S = 1.0 + BUSY_MARGIN_S
BOUND_MS = QUICK.capacity_bound_ms


class HealthPoller(threading.Thread):
    """Polls every service's health check once a second; records the slowest answer and failures."""

    def __init__(self, stack):
        super().__init__(daemon=True)
        self.stack = stack
        self.worst_s: dict[str, float] = {}
        self.failures: dict[str, int] = {}
        self.done = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=10.0) as client:
            while not self.done.is_set():
                for svc in self.stack.services:
                    t0 = time.perf_counter()
                    try:
                        ok = client.get(svc.health_url).status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    took = time.perf_counter() - t0
                    self.worst_s[svc.name] = max(self.worst_s.get(svc.name, 0.0), took)
                    if not ok:
                        self.failures[svc.name] = self.failures.get(svc.name, 0) + 1
                self.done.wait(1.0)


def _breaking_point(stack, chain, records, out) -> tuple[int, float]:
    """A short ramp (1 to 300 users at 10 users/s) to find this chain's breaking point here: users, req/s."""
    env = {"LAB_RAMP_MAX_USERS": "300", "LAB_RAMP_RATE": "10", "LAB_RAMP_DURATION_S": "30"}
    prefix = runner.run(stack, chain, Scenario("load_ramp", 300, 10, 30, env), out, records)
    steps = analysis.ramp_steps(analysis.load_requests(prefix), analysis.load_user_history(prefix), 10)
    bp = analysis.breaking_point(steps, 1000)
    return max(10, min(bp.users or 10, int(bp.rps or 10))), bp.rps or 10.0


# The delay policy's promise at twice the breaking point: no collapse. The chain still answers within the
# bound at least this share of the requests a second it served at its breaking point (with the policy off
# both chains collapsed to a few percent; lab goodput measures the figures: doc/FINDINGS.md).
GOODPUT_SHARE = 0.5


@pytest.mark.parametrize("chain", ["sync", "async"])
def test_twice_the_breaking_point(chain, tmp_path):
    stack = make_stack()
    lab = lab_settings(tmp_path)
    start(stack, lab)
    try:
        records = control.state_file(lab).read()
        mine = [r for r in records if r.name in ("redis", f"model-{chain}", f"scoring-{chain}")]
        breaking_users, breaking_rps = _breaking_point(stack, chain, mine, tmp_path)
        users = 2 * breaking_users
        workers = {r.name: set(processes.members(r)) for r in mine}
        poller = HealthPoller(stack)
        poller.start()
        prefix = runner.run(stack, chain, Scenario("max_performance", users, users / 2, OVERLOAD_S), tmp_path, mine)
        poller.done.set()
        poller.join()
        stopped = time.perf_counter()
        # Normal: a single request within its sequential model time plus the busy-machine margin.
        scoring = stack.scoring(chain).settings
        normal_s = scoring.n_models * stack.model(chain).settings.latency_max_ms / 1000 + BUSY_MARGIN_S
        while True:  # answers normally again, once the queue the load left behind has drained
            resp = httpx.post(stack.scoring(chain).predict_url, json=SAMPLE, timeout=5)
            if resp.status_code == 200 and resp.elapsed.total_seconds() < normal_s:
                break
            assert time.perf_counter() - stopped < DRAIN_S, f"the chain did not answer normally within {DRAIN_S} s"
        back_s = time.perf_counter() - stopped
        reqs = analysis.load_requests(prefix)
        statuses = Counter(r.status for r in reqs)
        served = analysis.summarise([r for r in reqs if r.status == 200])
        failures = (prefix.parent / f"{prefix.name}_failures.csv").read_text()
        assert served.requests > 0
        assert not poller.failures, poller.failures  # every service kept answering its health check
        # Status 0 is a broken connection or the client's own timeout (the old failure: one request at
        # Locust's 30 s network timeout, no RST on the wire). The policy's answer is a fast 503 instead.
        assert statuses[0] == 0, failures
        assert set(statuses) <= {200, 503}, statuses  # served, or refused by the overload policy
        slowest_ms = max(r.ms for r in reqs if r.status == 200)
        span_s = max(r.start for r in reqs) - min(r.start for r in reqs)
        goodput_rps = sum(1 for r in reqs if r.status == 200 and r.ms <= BOUND_MS) / span_s
        if scoring.admission == "delay":
            # What it admits it serves in time: the served p99 within the longest wait it admits (one interval,
            # past which any wait is refused) plus the models' time and the busy machine's margin.
            limit_ms = scoring.admission_interval_ms + scoring.n_models * stack.model(chain).settings.latency_max_ms
            assert served.p99_ms < limit_ms + 1000 * BUSY_MARGIN_S, served
            assert goodput_rps >= GOODPUT_SHARE * breaking_rps, (goodput_rps, breaking_rps)
        assert slowest_ms < 1000 * NETWORK_TIMEOUT_S / 2  # nobody served comes near the client's timeout
        assert {r.name: set(processes.members(r)) for r in mine} == workers  # no worker crash loop
        record(f"overload.{chain}", {
            "users": users, "seconds": OVERLOAD_S, "requests": len(reqs), "served": statuses[200],
            "rejected_503": statuses[503], "broken": statuses[0], "served_rps": served.rps,
            "served_p50_ms": served.p50_ms, "served_p99_ms": served.p99_ms, "served_max_ms": slowest_ms,
            "goodput_rps": goodput_rps, "breaking_rps": breaking_rps,
            "admission": scoring.admission, "max_in_flight_per_worker": scoring.max_in_flight,
            "worst_health_s": {k: round(v, 3) for k, v in poller.worst_s.items()}, "back_to_normal_s": round(back_s, 3),
        })  # fmt: skip
    finally:
        control.down(lab, log=lambda *_: None)


ORIGINAL_USERS = 150  # the original lab's max-performance example: 150 users spawned at once
ORIGINAL_S = float(os.environ.get("LAB_ORIGINAL_S", "30"))
ORIGINAL_SETTLE_S = 10.0  # the first seconds left out: 150 users spawning and the first bursts meeting cold workers


@pytest.mark.parametrize("chain", ["async"])
def test_the_original_labs_max_performance_command_is_served(chain, tmp_path):
    """The original lab's locustfile and command (150 HttpUsers spawned together, one request a second
    each: a burst of 150 every second) against the default chain: no request refused or failed (a burst
    is not a standing queue), and after the first 10 s a median within the capacity bound (250 ms), as issue 35
    asks (2026-12-04, before the lab's layers were measured apart: 270 ms; its FINDINGS entry has today's)."""
    stack = make_stack()
    lab = lab_settings(tmp_path)
    start(stack, lab)
    try:
        scoring = stack.scoring(chain)
        requests_log = tmp_path / "requests.csv"
        env = {**os.environ, "LAB_PREDICT_PATH": predict_path(chain), "LAB_REQUEST_LOG": str(requests_log)}
        prefix = tmp_path / "original"
        locustfile = Path(__file__).parents[2] / "benchmark" / "locust" / "original.py"
        subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(ORIGINAL_USERS),
             "-r", str(ORIGINAL_USERS), "-t", f"{ORIGINAL_S:g}s", "--host", scoring.settings.base_url,
             "--csv", str(prefix), "--only-summary"],
            env=env, check=False, timeout=ORIGINAL_S + 60, capture_output=True,
        )  # fmt: skip
        with open(f"{prefix}_stats.csv") as f:
            total = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
        failures = Path(f"{prefix}_failures.csv").read_text()
        assert int(total["Request Count"]) >= ORIGINAL_USERS * ORIGINAL_S / 2
        assert int(total["Failure Count"]) == 0, failures
        rows = [line.split(",") for line in requests_log.read_text().splitlines()]
        first = min(float(r[0]) for r in rows)
        later = [float(r[1]) for r in rows if float(r[0]) >= first + ORIGINAL_SETTLE_S]
        assert len(later) >= ORIGINAL_USERS * (ORIGINAL_S - ORIGINAL_SETTLE_S) / 2
        settled_p50 = statistics.median(later)
        assert settled_p50 < BOUND_MS, (settled_p50, total)
        record(f"original_max_performance.{chain}", {
            "users": ORIGINAL_USERS, "seconds": ORIGINAL_S, "requests": int(total["Request Count"]),
            "failures": int(total["Failure Count"]), "rps": float(total["Requests/s"]),
            "p50_ms": float(total["50%"]), "p99_ms": float(total["99%"]),
            "p50_ms_after_first_10_s": settled_p50,
        })  # fmt: skip
    finally:
        control.down(lab, log=lambda *_: None)


@pytest.mark.skipif(not os.environ.get("LAB_SOAK_MINUTES"), reason="soak test: set LAB_SOAK_MINUTES to run it")
def test_soak_rss_stays_flat(tmp_path):
    """The quick comparison's Locust scenarios, both chains, repeated until LAB_SOAK_MINUTES have passed.

    RSS is read with the stack idle: before the first round, after it (the reference: the first round
    fills caches, pools and worker arenas), and after the last; flat means the growth between the
    last two stays small.
    """
    minutes = float(os.environ["LAB_SOAK_MINUTES"])
    stack = make_stack()
    lab = lab_settings(tmp_path)
    start(stack, lab)
    try:
        records = control.state_file(lab).read()

        def rss() -> dict[str, int]:
            return {r.name: sum(psutil.Process(p).memory_info().rss for p in processes.members(r)) for r in records}

        before = rss()
        end = time.monotonic() + minutes * 60
        rounds, failed, after_first = 0, 0, None
        while rounds < 2 or time.monotonic() < end:
            run = suite.run(stack, lab, QUICK, ("locust",), progress=lambda *_: None, label="soak")
            summary = json.loads((run / "summary.json").read_text())
            failed += sum(
                s["failures"] for chain in summary["scenarios"].values()
                for name, s in chain.items() if name != "stress"
            )  # fmt: skip
            rounds += 1
            after_first = after_first or rss()
        last = rss()
        growth = {k: (last[k] - after_first[k]) / after_first[k] for k in after_first}
        record("soak", {
            "minutes": round(minutes, 1), "rounds": rounds, "failures_below_stress": failed,
            "rss_mb_before": {k: round(v / 2**20, 1) for k, v in before.items()},
            "rss_mb_after_first_round": {k: round(v / 2**20, 1) for k, v in after_first.items()},
            "rss_mb_at_end": {k: round(v / 2**20, 1) for k, v in last.items()},
            "rss_growth_after_first_round": {k: round(v, 3) for k, v in growth.items()},
        })  # fmt: skip
        assert all(g < 0.25 for g in growth.values()), growth
    finally:
        control.down(lab, log=lambda *_: None)


@pytest.mark.parametrize("chain", ["sync", "async"])
def test_past_max_in_flight_a_worker_answers_a_fast_503_with_retry_after(chain, tmp_path):
    """The overload policy on a real stack: one worker holding at most 2 predictions, 8 sent at once."""
    limit, wave = 2, 8
    # Threads, so the Flask worker holds several requests at once (a sync worker holds one).
    server = {"worker_class": "gthread", "threads": wave} if chain == "sync" else {}
    slow = {"latency_min_ms": 300, "latency_max_ms": 300, "workers": 2}
    fixed = {"workers": 1, "admission": "fixed", "max_in_flight": limit}
    stack = make_stack(**{f"model_{chain}": slow, f"scoring_{chain}": fixed | server})
    lab = lab_settings(tmp_path)
    start(stack, lab)
    try:
        url = stack.scoring(chain).predict_url
        with ThreadPoolExecutor(wave) as pool:
            replies = list(pool.map(lambda _: httpx.post(url, json=SAMPLE, timeout=10), range(wave)))
            health = httpx.get(stack.scoring(chain).health_url, timeout=10)  # GETs are never refused
        refused = [r for r in replies if r.status_code == 503]
        assert {r.status_code for r in replies} <= {200, 503} and health.status_code == 200
        assert sum(r.status_code == 200 for r in replies) >= 1
        assert len(refused) >= wave - 2 * limit  # at most the limit is held while the wave arrives, twice over
        for r in refused:
            assert r.json()["error"] == "overloaded" and r.headers["retry-after"] == "1"
            # Refused before any work: well under the model's 300 ms, with the busy-machine margin.
            assert r.elapsed.total_seconds() < 0.3 + BUSY_MARGIN_S
    finally:
        control.down(lab, log=lambda *_: None)
