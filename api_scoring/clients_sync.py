"""Blocking clients of the scoring handler: model API callers and feature readers.

One class per implementation, chosen by settings: the default shares one pooled client per worker
process; the ``per_request`` ones reproduce the original lab's code paths so their cost can be
measured. Used by the Flask app, and by the FastAPI app's ``def`` endpoint variant.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
import requests
from requests.adapters import HTTPAdapter

from api_common import jobqueue, protocols
from api_common.deadline import Deadline
from api_common.errors import ApiError
from api_scoring import service
from api_scoring.settings import ScoringSettings


class ModelCaller:
    """Calls the model API with one ``requests.Session`` (a connection pool) per process."""

    shared = True

    def __init__(self, settings: ScoringSettings):
        self.settings = settings
        self.url = settings.model_url.rstrip("/") + settings.model_path
        self.protocol = protocols.get(settings.model_protocol)
        self.timeout = (settings.model_connect_timeout_s, settings.model_timeout_s)
        self.session = self._session() if self.shared else None

    def _session(self) -> requests.Session:
        session = requests.Session()
        size = max(self.settings.n_models * self.settings.requests_per_worker(), 10)
        session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=size))
        return session

    def _post(self, params: dict, body: Any, timeout: tuple, headers: dict) -> requests.Response:
        return self.session.post(self.url, params=params, json=body, timeout=timeout, headers=headers)

    def call(self, name: str, features: list[float], profile: str | None, deadline: Deadline | None = None) -> float:
        params, payload = service.model_request(self.protocol, name, features, profile)
        timeout_s = service.call_timeout(self.settings, deadline)
        if timeout_s <= 0:  # the budget is spent: the caller has given up, so no call is made
            raise service.model_timeout(timeout_s)
        headers = deadline.headers() if deadline is not None else {}  # what is left, for the model API
        timeouts = (min(self.timeout[0], timeout_s), timeout_s)
        try:
            try:
                resp = self._post(params, payload, timeouts, headers)
            except requests.ConnectionError as exc:  # closed before it answered: once more (service.py says why)
                left = service.call_timeout(self.settings, deadline)
                if not service.closed_before_answer(exc) or left <= 0:
                    raise
                resp = self._post(params, payload, (min(self.timeout[0], left), left), headers)
        except requests.Timeout:
            raise service.model_timeout(timeout_s) from None
        except requests.RequestException as exc:
            raise service.model_unreachable(exc) from None
        try:
            body = resp.json()
        except ValueError:
            body = None
        return service.model_score(resp.status_code, self.protocol.answer(body))

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


class PerRequestModelCaller(ModelCaller):
    """Seed-faithful: ``requests.post`` with no session, so a new connection for every call."""

    shared = False

    def _post(self, params: dict, body: Any, timeout: tuple, headers: dict) -> requests.Response:
        return requests.post(self.url, params=params, json=body, timeout=timeout, headers=headers)


class FeatureReader:
    """Reads an entity's features through one redis-py connection pool per process."""

    shared = True

    def __init__(self, settings: ScoringSettings):
        self.settings = settings
        self.client = self._client() if self.shared else None

    def _client(self) -> redis.Redis:
        t = self.settings.redis_timeout_s
        return redis.Redis.from_url(self.settings.redis_url, socket_timeout=t, socket_connect_timeout=t)

    def get(self, key: str) -> bytes | None:
        try:
            return self.client.get(key)
        except redis.RedisError as exc:
            raise service.redis_unavailable(exc) from None

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


class PerRequestFeatureReader(FeatureReader):
    """Seed-faithful: a new Redis connection for every request, closed after it."""

    shared = False

    def get(self, key: str) -> bytes | None:
        client = self._client()
        try:
            return client.get(key)
        except redis.RedisError as exc:
            raise service.redis_unavailable(exc) from None
        finally:
            client.close()


def model_caller(settings: ScoringSettings) -> ModelCaller:
    return PerRequestModelCaller(settings) if settings.http_client == "per_request" else ModelCaller(settings)


def feature_reader(settings: ScoringSettings) -> FeatureReader:
    return PerRequestFeatureReader(settings) if settings.redis_client == "per_request" else FeatureReader(settings)


class Fanout:
    """Calls the N models one after the other, or concurrently from a thread pool."""

    def __init__(self, settings: ScoringSettings, caller: ModelCaller):
        self.caller = caller
        self.names = service.model_names(settings)
        self.pool = None
        if settings.fanout == "concurrent":
            # Sized for every request the worker can hold: under gevent these threads are greenlets, and a
            # pool sized for one request would serialise the model calls of all the worker's requests.
            self.pool = ThreadPoolExecutor(settings.n_models * settings.requests_per_worker())

    def scores(self, features: list[float], profile: str | None, deadline: Deadline | None = None) -> list[float]:
        if self.pool is None:  # one after the other: each call has what the ones before it left
            return [self.caller.call(name, features, profile, deadline) for name in self.names]
        futures = [self.pool.submit(self.caller.call, name, features, profile, deadline) for name in self.names]
        errors = [f.exception() for f in futures]
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first if isinstance(first, ApiError) else service.model_unreachable(first)
        return [f.result() for f in futures]


class QueueFanout:
    """The job-queue architecture: one job per model on the model tier's Redis stream, answers on a reply list."""

    def __init__(self, settings: ScoringSettings):
        self.settings = settings
        self.names = service.model_names(settings)
        self.stream = jobqueue.stream(settings.model_url)
        t = settings.model_timeout_s
        # A blocking pop waits up to the model timeout: the socket must wait longer than that.
        self.client = redis.Redis.from_url(settings.redis_url, socket_timeout=t + 1, socket_connect_timeout=t)

    def scores(self, features: list[float], profile: str | None, deadline: Deadline | None = None) -> list[float]:
        timeout = service.call_timeout(self.settings, deadline)  # the jobs carry it: a worker drops them past it
        request_id = jobqueue.new_request_id()
        key = jobqueue.reply_key(request_id)
        got: dict[str, float] = {}
        try:
            pipe = self.client.pipeline(transaction=False)
            jobqueue.add_jobs(pipe, self.stream, request_id, self.names, features, timeout)
            pipe.execute()
            deadline = time.monotonic() + timeout
            while len(got) < len(self.names):
                left = deadline - time.monotonic()
                popped = self.client.blpop([key], timeout=left) if left > 0 else None
                if popped is None:
                    raise service.model_timeout(timeout)
                service.queued_score(got, popped[1])
        except redis.RedisError as exc:
            raise service.model_unreachable(exc) from None
        return [got[name] for name in self.names]


def fanout(settings: ScoringSettings) -> Fanout | QueueFanout:
    """How this handler calls its models: HTTP (one caller, sequential or concurrent), or the job queue."""
    if settings.model_transport == "queue":
        return QueueFanout(settings)
    return Fanout(settings, model_caller(settings))
