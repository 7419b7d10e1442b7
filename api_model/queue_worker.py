"""The job queue's model workers: a pool of processes answering the model tier's Redis stream in batches.

``python -m api_model.queue_worker SETTINGS_CLASS`` (the ``queue_workers`` server of api_common/servers
starts it): the main process starts ``workers`` worker processes, restarts none (a dead worker's jobs are
claimed by the others: that is the point of the consumer group), and serves the model API's contract on
the service's port: the health check (200 once every worker has loaded its model, while every one is
alive), ``/metrics``, and the predict endpoint as a gateway onto the queue (one job, its answer awaited), so
the README's commands still work.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections import defaultdict
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import redis
from pydantic import ValidationError

from api_common import bare, deadline, jobqueue
from api_common.contract import HEALTH_PATH, METRICS_PATH, predict_path
from api_common.errors import ApiError
from api_common.metrics import Metrics
from api_common.validation import parse_body
from api_model.schemas import FEATURES
from api_model.service import model_name, plan_batch, run_blocking, warm
from api_model.settings import ModelApiSettings

log = logging.getLogger("queue_worker")
GATEWAY_TIMEOUT_S = 5.0  # the predict endpoint's wait for a worker's answer


def load_settings(path: str) -> ModelApiSettings:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)()


def ensure_group(r: redis.Redis, stream: str) -> None:
    try:
        r.xgroup_create(stream, jobqueue.GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):  # the group exists: another worker made it
            raise


EXPIRED = {"error": "job_expired", "message": "the job waited in the queue past its caller's timeout"}


def answer_batch(settings: ModelApiSettings, r: redis.Redis, stream: str, jobs: list[jobqueue.QueuedJob],
                 observe_batch, on_expired) -> None:  # fmt: skip
    """One batched model call per model name; every job answered on its caller's reply list, then acked.
    A job past its caller's deadline is answered 504 without a model call."""
    by_model: dict[str, list[jobqueue.QueuedJob]] = defaultdict(list)
    for job in jobs:
        by_model[job.model].append(job)
    now = time.time()
    for name, group in by_model.items():
        valid, answers = [], {}
        for job in group:
            if job.expired(now):  # its caller has answered 504 already: no model call for it
                answers[job.entry_id] = jobqueue.answer(name, 504, EXPIRED)
                on_expired()
                continue
            try:
                FEATURES.validate_python(job.features, strict=True)
                valid.append(job)
            except ValidationError:
                answers[job.entry_id] = jobqueue.answer(name, 422, {"error": "validation_error"})
        if valid:
            try:
                observe_batch(len(valid))
                results = run_blocking(settings, plan_batch(settings, [j.features for j in valid], name))
                answers |= {j.entry_id: jobqueue.answer(name, 200, res) for j, res in zip(valid, results, strict=True)}
            except ApiError as err:
                answers |= {j.entry_id: jobqueue.answer(name, err.status, err.body()) for j in valid}
        pipe = r.pipeline(transaction=False)
        for job in group:
            key = jobqueue.reply_key(job.request_id)
            pipe.lpush(key, answers[job.entry_id])
            pipe.expire(key, jobqueue.REPLY_TTL_S)
        ids = [job.entry_id for job in group]
        pipe.xack(stream, jobqueue.GROUP, *ids)
        pipe.xdel(stream, *ids)
        pipe.execute()


def work(settings_path: str, ready=None) -> None:
    """One worker process: claim what a dead worker left, else read new jobs; answer them in batches. It sets
    ``ready`` once its model is loaded and its consumer group exists (the health check waits for it)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    settings = load_settings(settings_path)
    warm(settings)
    metrics = Metrics(f"model-{settings.chain}")
    stream = jobqueue.stream(settings.base_url)
    r = redis.Redis.from_url(settings.queue_url, socket_timeout=5, socket_connect_timeout=2)
    ensure_group(r, stream)
    if ready is not None:
        ready.set()
    consumer = f"{socket.gethostname()}-{os.getpid()}"
    while True:
        try:
            # Redis 6.2 answers [next id, entries]; 7 adds the ids of deleted entries: entries are second in both.
            claimed = r.xautoclaim(stream, jobqueue.GROUP, consumer, min_idle_time=settings.claim_idle_ms,
                                   count=settings.max_batch_size)[1]  # fmt: skip
            entries = [(eid, fields) for eid, fields in claimed if fields]  # a deleted entry comes back empty
            if not entries:
                read = r.xreadgroup(jobqueue.GROUP, consumer, {stream: ">"}, count=settings.max_batch_size, block=1000)
                entries = read[0][1] if read else []
            if entries:
                jobs = [jobqueue.parse_entry(eid, fields) for eid, fields in entries]
                answer_batch(settings, r, stream, jobs, metrics.observe_batch, metrics.expired_job)
        except redis.RedisError as exc:  # Redis away: wait and try again, the jobs stay in the stream
            log.warning("redis error: %s", exc)
            time.sleep(0.5)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    settings_path = (argv or sys.argv[1:])[0]
    settings = load_settings(settings_path)
    ctx = multiprocessing.get_context("spawn")
    ready = [ctx.Event() for _ in range(settings.worker_count())]
    workers = [ctx.Process(target=work, args=(settings_path, e), daemon=True) for e in ready]
    for p in workers:
        p.start()
    metrics = Metrics(f"model-{settings.chain}")

    def health(query, raw, headers):
        alive = sum(p.is_alive() for p in workers)
        if alive < len(workers):
            raise ApiError(503, "workers_down", f"{len(workers) - alive} of {len(workers)} queue workers are down")
        if not all(e.is_set() for e in ready):  # a worker still loading its model would leave its jobs waiting
            raise ApiError(503, "workers_starting", "queue workers are still loading their model")
        return bare.ok({"status": "OK"})

    def metrics_text(environ, start_response):
        data = metrics.expose()
        start_response("200 OK", [("Content-Type", "text/plain; version=0.0.4"), ("Content-Length", str(len(data)))])
        return [data]

    gateway = redis.Redis.from_url(settings.queue_url, socket_timeout=GATEWAY_TIMEOUT_S + 1, socket_connect_timeout=2)

    def predict(query, raw, headers):
        features = parse_body(raw, FEATURES, settings.max_body_bytes, settings.json_library)
        name = model_name(settings, query.get("model"))
        request_id = jobqueue.new_request_id()
        # The caller's budget, if it sent one (api_common/deadline.py), is the job's: a worker drops it past that.
        budget = deadline.budget_s(headers.get(deadline.HEADER.lower()))
        timeout = GATEWAY_TIMEOUT_S if budget is None else min(budget, GATEWAY_TIMEOUT_S)
        if timeout <= 0:
            raise deadline.exceeded()
        try:
            job = jobqueue.job_fields(request_id, name, features, timeout)
            gateway.xadd(jobqueue.stream(settings.base_url), job, maxlen=jobqueue.STREAM_MAX_LEN, approximate=True)
            popped = gateway.blpop([jobqueue.reply_key(request_id)], timeout=timeout)
        except redis.RedisError as exc:
            raise ApiError(503, "queue_unavailable", f"job queue unavailable: {type(exc).__name__}") from None
        if popped is None:
            raise ApiError(504, "model_timeout", f"no queue worker answered within {timeout:.3g} s")
        _, status, body = jobqueue.read_answer(popped[1])
        return status, body, {}

    routes = {("GET", HEALTH_PATH): health, ("POST", predict_path(settings.chain)): predict}
    api = bare.wsgi(routes, settings.max_body_bytes, settings.json_library)

    def app(environ, start_response):
        if environ.get("PATH_INFO") == METRICS_PATH:
            return metrics_text(environ, start_response)
        return api(environ, start_response)

    def stop(*_):
        for p in workers:
            p.terminate()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    with make_server(settings.host, settings.port, app, server_class=_ThreadingServer, handler_class=_Quiet) as server:
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
