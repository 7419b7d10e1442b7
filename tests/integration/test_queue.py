"""The job-queue architecture on real processes: right answers, and a worker killed mid-batch loses nothing."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest
import redis

from api_common import jobqueue
from api_common.contract import SAMPLE
from api_model.model import score
from lab import control, processes, variants
from lab.smoke import expected_prediction
from tests.conftest import BUSY_MARGIN_S, lab_settings, make_stack

pytestmark = pytest.mark.integration


def queue_stack(chain: str, **model):
    v = variants.get(f"{chain}-queue")
    return make_stack(**{f"model_{chain}": v.model | model, f"scoring_{chain}": v.scoring | {"model_timeout_s": 3.0}})


@pytest.mark.parametrize("chain", ["sync", "async"])
def test_the_queue_chain_answers_like_the_http_chain(chain, tmp_path):
    stack = queue_stack(chain)
    lab = lab_settings(tmp_path)
    records = control.start(stack, lab, ["redis", f"model-{chain}", f"scoring-{chain}"], log=lambda *_: None)
    try:
        reply = httpx.post(stack.scoring(chain).predict_url, json=SAMPLE, timeout=10)
        assert reply.status_code == 200, reply.text
        assert reply.json()["detail"] == pytest.approx(expected_prediction(stack, chain), abs=1e-12)
        # The model tier's own predict endpoint is a gateway onto the queue: the README's curl command works.
        model = httpx.post(stack.model(chain).predict_url + "?model=model-2", json=SAMPLE, timeout=10)
        assert model.status_code == 200 and model.json()["detail"] == pytest.approx(score("model-2", SAMPLE))
        bad = httpx.post(stack.model(chain).predict_url, content=b"[", headers={"Content-Type": "application/json"})
        assert (bad.status_code, bad.json()["error"]) == (400, "invalid_json")
        assert httpx.get(stack.model(chain).health_url).json() == {"status": "OK"}
    finally:
        control.stop(lab, records)
    assert not any(processes.alive(r) for r in records)


def _workers(record) -> list[int]:
    found = []
    for pid in processes.members(record):
        try:
            if "multiprocessing.spawn" in " ".join(psutil.Process(pid).cmdline()):
                found.append(pid)
        except psutil.Error:
            continue
    return found


def test_a_worker_killed_mid_batch_loses_no_job(tmp_path):
    """Batches of 300 ms: one worker is killed while it holds jobs; the other claims them (XAUTOCLAIM after
    300 ms idle) and answers. Every caller gets its answer, or a clear 504, within its 3 s timeout."""
    latency = {"latency_min_ms": 300, "latency_max_ms": 300, "claim_idle_ms": 300, "workers": 2}
    stack = queue_stack("async", **latency)
    lab = lab_settings(tmp_path)
    records = control.start(stack, lab, ["redis", "model-async", "scoring-async"], log=lambda *_: None)
    try:
        model = next(r for r in records if r.name == "model-async")
        workers = _workers(model)
        assert len(workers) == 2
        url = stack.scoring("async").predict_url

        def call(_):
            t0 = time.monotonic()
            resp = httpx.post(url, json=SAMPLE, timeout=10)
            return resp.status_code, time.monotonic() - t0

        with ThreadPoolExecutor(20) as pool:
            futures = [pool.submit(call, i) for i in range(20)]
            time.sleep(0.15)  # the first batches are being served (300 ms each)
            os.kill(workers[0], signal.SIGKILL)
            results = [f.result() for f in futures]
        statuses = [s for s, _ in results]
        assert set(statuses) <= {200, 504}, statuses
        assert max(t for _, t in results) < 3.0 + BUSY_MARGIN_S  # the model timeout, plus the margin
        assert statuses.count(200) == len(statuses)  # re-delivered, not lost
        # The dead worker is not restarted: the health check says so.
        health = httpx.get(stack.model("async").health_url, timeout=5)
        assert health.status_code == 503 and health.json()["error"] == "workers_down"
    finally:
        control.stop(lab, records)


def test_a_job_past_its_callers_deadline_is_answered_504_without_a_model_call(tmp_path):
    """Two jobs put straight on the tier's stream, one whose caller's deadline has passed: the live one is
    scored, the expired one answered 504 job_expired and counted; both are acknowledged, none left pending."""
    stack = queue_stack("async")
    lab = lab_settings(tmp_path)
    records = control.start(stack, lab, ["redis", "model-async"], log=lambda *_: None)
    try:
        r = redis.Redis.from_url(stack.redis.effective_url)
        stream = jobqueue.stream(stack.model("async").settings.base_url)
        r.xadd(stream, jobqueue.job_fields("expired", "model-1", SAMPLE, timeout_s=-1.0))
        r.xadd(stream, jobqueue.job_fields("live", "model-1", SAMPLE, timeout_s=10.0))
        answers = {}
        for request in ("expired", "live"):
            popped = r.blpop([jobqueue.reply_key(request)], timeout=10)
            assert popped is not None, request
            answers[request] = jobqueue.read_answer(popped[1])
        assert answers["live"][1] == 200
        assert answers["live"][2]["detail"] == pytest.approx(score("model-1", SAMPLE))
        assert answers["expired"][1] == 504 and answers["expired"][2]["error"] == "job_expired"
        assert r.xpending(stream, jobqueue.GROUP)["pending"] == 0 and r.xlen(stream) == 0
        metrics = httpx.get(stack.model("async").url + "/metrics", timeout=5).text
        assert any(
            line.startswith("model_jobs_expired_total{") and line.endswith(" 1.0") for line in metrics.splitlines()
        )
    finally:
        control.stop(lab, records)
