"""Prometheus metrics of one service: requests and latency per route, requests in flight, and for the
scoring handlers the time spent on Redis and on the model calls.

Under gunicorn or ``uvicorn --workers`` each worker is a process of its own, so metrics are kept in
prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by the launcher) and ``/metrics``
aggregates every worker's files. Without that variable (test clients) each app keeps its own registry.
Recording is a few counter and histogram updates per request, after the handler has run.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """``enabled=False`` (a service's ``metrics`` setting off): no collector is made, recording does nothing and
    ``expose`` answers no series; the middlewares that call it are not installed either."""

    def __init__(self, service: str, enabled: bool = True):
        self.service = service
        self.enabled = enabled
        if not enabled:
            return
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        # Multiprocess metrics are written to files and collected at scrape time: no registry of their own.
        reg = None if self.multiprocess else CollectorRegistry()
        self.registry = reg
        self.requests = Counter(
            "lab_http_requests_total", "HTTP requests answered", ["service", "route", "method", "status"], registry=reg
        )
        self.latency = Histogram(
            "lab_http_request_duration_seconds", "Time to answer, per route", ["service", "route"],
            buckets=BUCKETS, registry=reg,
        )  # fmt: skip
        self.in_flight = Gauge(
            "lab_http_requests_in_flight", "Requests being served", ["service"], registry=reg,
            multiprocess_mode="livesum",
        )  # fmt: skip
        self.steps = Histogram(
            "lab_scoring_step_duration_seconds", "Scoring handler time per step (redis, models)", ["service", "step"],
            buckets=BUCKETS, registry=reg,
        )  # fmt: skip
        self.batch_size = Histogram(
            "model_batch_size", "Items per model call (batch endpoint and dynamic batching)", ["service"],
            buckets=BATCH_BUCKETS, registry=reg,
        )  # fmt: skip
        self.expired = Counter(
            "model_jobs_expired_total", "Queued jobs reached past their caller's deadline (answered 504, not run)",
            ["service"], registry=reg,
        )  # fmt: skip
        self._in_flight = self.in_flight.labels(service)
        # Each labelled child, looked up once: ``labels()`` checks and joins its values and takes a lock on every
        # call, most of what recording a request cost (lab ablation, issue 35).
        self._children: dict[tuple, Any] = {}

    def _child(self, metric, *values: str):
        key = (metric, *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(self.service, *values)
        return child

    def started(self) -> None:
        if not self.enabled:
            return
        self._in_flight.inc()

    def finished(self, route: str, method: str, status: int, seconds: float) -> None:
        if not self.enabled:
            return
        self._in_flight.dec()
        self._child(self.requests, route, method, str(status)).inc()
        self._child(self.latency, route).observe(seconds)

    def observe_batch(self, size: int) -> None:
        if not self.enabled:
            return
        self._child(self.batch_size).observe(size)

    def expired_job(self) -> None:
        if not self.enabled:
            return
        self._child(self.expired).inc()

    def observe_steps(self, spans_ms: dict[str, float]) -> None:
        if not self.enabled:
            return
        for step, ms in spans_ms.items():
            self._child(self.steps, step).observe(ms / 1000)

    def expose(self) -> bytes:
        if not self.enabled:
            return b""
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        assert self.registry is not None
        return generate_latest(self.registry)


def prepare_dir(path: str | os.PathLike) -> None:
    """An empty multiprocess directory: files of an earlier run would be counted again."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db") or name.startswith("batches-"):  # a model server's batch counts too
            os.remove(os.path.join(path, name))
