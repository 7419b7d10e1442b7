"""Dead, hung and restarted dependencies on the real stack: fast clean errors, recovery by itself.

Each test kills (SIGTERM), pauses (SIGSTOP) or restarts a real process the lab started, checks the
answers and their timings, brings it back, and checks that the chain recovers with no restart of
the scoring handler's workers. The timings go to the reliability record for the README.
"""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest

from api_common.contract import SAMPLE
from lab import control, processes
from tests.conftest import BUSY_MARGIN_S, lab_settings, make_stack, start
from tests.reliability.record import record

pytestmark = pytest.mark.integration
CHAINS = ("sync", "async")
CONNECT_TIMEOUT_S = 2 * BUSY_MARGIN_S


@pytest.fixture
def stack_lab(tmp_path):
    two = {"workers": 2}
    # A connect timeout far longer than a refusal takes, so a fast 502 is told from a waited one.
    scoring = two | {"model_connect_timeout_s": CONNECT_TIMEOUT_S}
    stack = make_stack(model_sync=two, scoring_sync=scoring, scoring_async=scoring, entities=100)
    lab = lab_settings(tmp_path)
    start(stack, lab)
    try:
        yield stack, lab
    finally:
        for rec in control.state_file(lab).read():
            _signal(rec, signal.SIGCONT)  # never leave a paused process behind
        control.down(lab, log=lambda *_: None)


def _record(lab, name):
    return next(r for r in control.state_file(lab).read() if r.name == name)


def _signal(rec, sig) -> None:
    for pid in processes.members(rec):
        os.kill(pid, sig)


def _post(stack, chain, timeout=10.0):
    t0 = time.perf_counter()
    resp = httpx.post(stack.scoring(chain).predict_url, json=SAMPLE, timeout=timeout)
    return resp, time.perf_counter() - t0


def _recovery_time(stack, chain, limit=10.0) -> float:
    """Seconds until the chain answers 200 again, polling every 20 ms."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        try:
            if _post(stack, chain, timeout=2)[0].status_code == 200:
                return time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise AssertionError(f"{chain} chain did not recover within {limit} s")


def _workers(lab, name) -> set[int]:
    return set(processes.members(_record(lab, name)))


@pytest.mark.parametrize("chain", CHAINS)
def test_model_api_down_is_a_fast_502_and_recovers_by_itself(stack_lab, chain):
    stack, lab = stack_lab
    workers = _workers(lab, f"scoring-{chain}")
    control.stop(lab, [_record(lab, f"model-{chain}")])
    timings = []
    for _ in range(5):
        resp, took = _post(stack, chain)
        assert (resp.status_code, resp.json()["error"]) == (502, "model_unreachable")
        timings.append(took)
    # Under the connect timeout: the refusal was reported at once (about 50 ms here), not waited on.
    assert max(timings) < CONNECT_TIMEOUT_S, timings
    control.start(stack, lab, [f"model-{chain}"], log=lambda *_: None)  # healthy when this returns
    recovery = _recovery_time(stack, chain)
    assert recovery < stack.scoring(chain).settings.model_timeout_s + BUSY_MARGIN_S  # one stale connection at most
    assert _workers(lab, f"scoring-{chain}") == workers  # no worker was restarted
    record(
        f"faults.model_down.{chain}", {"502_max_ms": round(1000 * max(timings), 1), "recovery_s": round(recovery, 3)}
    )


@pytest.mark.parametrize("chain", CHAINS)
def test_hung_model_api_is_a_504_at_the_timeout_without_pile_up(stack_lab, chain):
    stack, lab = stack_lab
    timeout = stack.scoring(chain).settings.model_timeout_s
    model = _record(lab, f"model-{chain}")
    scoring = _record(lab, f"scoring-{chain}")
    model_port = stack.model(chain).settings.port
    # As many requests at once as the scoring handler holds (a sync worker queues the rest behind it).
    settings = stack.scoring(chain).settings
    wave = settings.concurrency() or 10  # an event loop holds any number: 10 at once
    _signal(model, signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(wave) as pool:
            for _wave in range(3):
                results = list(pool.map(lambda _: _post(stack, chain), range(wave)))
                for resp, took in results:
                    assert (resp.status_code, resp.json()["error"]) == (504, "model_timeout")
                    assert timeout <= took < timeout + BUSY_MARGIN_S
        # Timed-out calls are closed, not kept waiting: what is still open towards the model is bounded.
        open_to_model = sum(
            1 for pid in processes.members(scoring) for c in psutil.Process(pid).net_connections("tcp")
            if c.raddr and c.raddr.port == model_port and c.status == psutil.CONN_ESTABLISHED
        )  # fmt: skip
        assert open_to_model <= wave * settings.n_models
    finally:
        _signal(model, signal.SIGCONT)
    recovery = _recovery_time(stack, chain)
    assert recovery < timeout + BUSY_MARGIN_S  # the resumed model drains what queued; no call waits past a timeout
    worst = max(took for _, took in results)
    record(f"faults.model_hung.{chain}", {"504_max_s": round(worst, 3), "open_to_model": open_to_model,
                                          "recovery_s": round(recovery, 3)})  # fmt: skip


def test_redis_down_is_a_503_and_a_restart_recovers_by_itself(stack_lab):
    stack, lab = stack_lab
    workers = {c: _workers(lab, f"scoring-{c}") for c in CHAINS}
    control.stop(lab, [_record(lab, "redis")])
    figures = {}
    for chain in CHAINS:
        resp, took = _post(stack, chain)
        assert (resp.status_code, resp.json()["error"]) == (503, "feature_store_unavailable")
        assert took < stack.scoring(chain).settings.redis_timeout_s + BUSY_MARGIN_S
        figures[f"503_ms.{chain}"] = round(1000 * took, 1)
    control.start(stack, lab, ["redis"], log=lambda *_: None)  # an empty Redis, loaded before it returns
    for chain in CHAINS:
        figures[f"recovery_s.{chain}"] = round(_recovery_time(stack, chain), 3)
        # Each pooled connection is found dead once: a timeout for the first, then a reconnect.
        assert figures[f"recovery_s.{chain}"] < 2 * stack.scoring(chain).settings.redis_timeout_s + BUSY_MARGIN_S
        assert _workers(lab, f"scoring-{chain}") == workers[chain]
    record("faults.redis_restart", figures)


def test_paused_redis_is_a_503_within_the_redis_timeout(stack_lab):
    stack, lab = stack_lab
    rec = _record(lab, "redis")
    _signal(rec, signal.SIGSTOP)
    try:
        for chain in CHAINS:
            resp, took = _post(stack, chain)
            assert (resp.status_code, resp.json()["error"]) == (503, "feature_store_unavailable")
            assert took < stack.scoring(chain).settings.redis_timeout_s + BUSY_MARGIN_S
    finally:
        _signal(rec, signal.SIGCONT)
    for chain in CHAINS:
        assert _recovery_time(stack, chain) < 2 * stack.scoring(chain).settings.redis_timeout_s + BUSY_MARGIN_S
