"""What a prediction does, independent of the framework: the twins only wait differently.

One model call serves a batch of feature vectors (a single prediction is a batch of one). Its scores
and what it costs come from the model's backend (api_model/backends): ``io`` waits one 40-50 ms draw,
``cpu`` burns it, plus a per-item cost for a batch (``a + b.n``); ``real`` costs its own computation
(one ``predict_proba`` call).
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

from api_common import deadline
from api_common.deadline import Deadline
from api_common.errors import ApiError
from api_model.backends import score
from api_model.batching import AsyncBatcher, ThreadBatcher
from api_model.model import burn_cpu
from api_model.schemas import Prediction, check_batch_size, check_model_name
from api_model.settings import ModelApiSettings


@dataclass(frozen=True)
class Job:
    """One model call: model ``model`` on ``items``, taking ``latency_ms`` (waited or burnt) first."""

    model: str
    items: list[list[float]]
    latency_ms: float

    def results(self, settings: ModelApiSettings) -> list[dict]:
        backend = settings.backend()
        if backend.outputs is not None:  # a user's model: its own outputs beside the score (one call for both)
            rows = [(score(o), o) for o in backend.outputs(settings, self.items)]
        else:
            rows = [(s, None) for s in predictions(settings, self.model, self.items)]
        version = settings.version or None
        answer = lambda s, o: Prediction(  # noqa: E731
            detail=s, model=self.model, latency_ms=self.latency_ms, outputs=o, version=version
        )
        return [answer(s, o).model_dump(exclude_none=True) for s, o in rows]

    def result(self, settings: ModelApiSettings) -> dict:
        return self.results(settings)[0]


def predictions(settings: ModelApiSettings, name: str, items: list[list[float]]) -> list[float]:
    """Model ``name``'s score of each item: the same value alone or in a batch, item for item."""
    return settings.backend().scores(settings, name, items)


def model_name(settings: ModelApiSettings, model: str | None) -> str:
    return check_model_name(model if model is not None else settings.default_model)


def latency_ms(settings: ModelApiSettings, n: int, single: bool = False) -> float:
    """What a call on ``n`` items waits or burns beside its computation, as its backend simulates it."""
    return settings.backend().cost_ms(settings, n, single)


def plan(settings: ModelApiSettings, features: list[float], model: str | None) -> Job:
    """Validate the model name and draw the latency the model will simulate, for one prediction."""
    return Job(model_name(settings, model), [features], latency_ms(settings, 1, single=True))


def plan_batch(settings: ModelApiSettings, items: list[list[float]], model: str | None) -> Job:
    """The same for a batch (already validated and capped by its schema)."""
    return Job(model_name(settings, model), items, latency_ms(settings, len(items)))


def warm(settings: ModelApiSettings) -> None:
    """Load the backend's model when the app starts, not on its first request."""
    settings.backend().warm(settings)


def run_blocking(settings: ModelApiSettings, job: Job) -> list[dict]:
    """Wait or burn the job's simulated latency in this thread, then answer every item."""
    if settings.backend().burns:
        burn_cpu(job.latency_ms / 1000)
    elif job.latency_ms:
        time.sleep(job.latency_ms / 1000)
    return job.results(settings)


async def run_async(settings: ModelApiSettings, job: Job) -> list[dict]:
    """The same on an event loop: a wait is awaited; burnt CPU and a backend's own computation block the
    loop (that is what CPU-bound means)."""
    if settings.backend().burns:
        burn_cpu(job.latency_ms / 1000)
    elif job.latency_ms:
        await asyncio.sleep(job.latency_ms / 1000)
    return job.results(settings)


BATCH_WAIT_S = 5.0  # a caller of a dynamic batch gives up after this (then a 504): far above any batch's cost


def started(d: Deadline | None) -> None:
    """Work whose caller has given up (its deadline passed while the request waited) is not started."""
    if d is not None and d.expired():
        raise deadline.exceeded()


def wait_s(d: Deadline | None) -> float:
    """How long a caller waits for its batch: the batcher's bound, or its deadline if sooner."""
    return BATCH_WAIT_S if d is None else d.bound(BATCH_WAIT_S)


def gave_up(d: Deadline | None) -> ApiError:
    return deadline.exceeded() if d is not None and d.expired() else batch_timeout()


def batch_timeout() -> ApiError:
    return ApiError(504, "model_timeout", f"the model's batch did not answer within {BATCH_WAIT_S:g} s")


class BlockingModel:
    """The blocking twin's model calls; single predictions batched dynamically when the settings ask.

    Batching needs a worker that holds several requests at once (threads); a gunicorn ``sync`` worker
    holds one, so a batch would never hold more than one item: refused at start with the reason.
    """

    def __init__(self, settings: ModelApiSettings, observe_batch):
        self.settings, self.observe_batch = settings, observe_batch
        self.batchers: dict[str, ThreadBatcher] = {}
        warm(settings)
        self._lock = threading.Lock()
        if settings.max_wait_ms is not None and settings.requests_per_worker() < 2:
            raise ValueError(
                f"dynamic batching needs a worker that holds more than one request at once (gthread, granian's "
                f"threads); {settings.server} with worker class {settings.worker_class} holds one"
            )

    def predict(self, features: list[float], model: str | None, deadline: Deadline | None = None) -> dict:
        s = self.settings
        started(deadline)
        if s.max_wait_ms is None:
            self.observe_batch(1)
            return run_blocking(s, plan(s, features, model))[0]
        name = model_name(s, model)
        with self._lock:
            batcher = self.batchers.get(name)
            if batcher is None:
                run = lambda items, name=name: run_blocking(s, plan_batch(s, items, name))  # noqa: E731
                batcher = self.batchers[name] = ThreadBatcher(run, s.max_batch_size, s.max_wait_ms, self.observe_batch)
        try:
            return batcher.submit(features, wait_s(deadline))  # past it, the item is left out of its batch
        except TimeoutError:
            raise gave_up(deadline) from None

    def predict_batch(
        self, items: list[list[float]], model: str | None, deadline: Deadline | None = None
    ) -> list[dict]:
        started(deadline)
        check_batch_size(items, self.settings.max_batch_size)
        self.observe_batch(len(items))
        return run_blocking(self.settings, plan_batch(self.settings, items, model))


class AsyncModel:
    """The async twin's model calls; single predictions batched across the worker's concurrent requests."""

    def __init__(self, settings: ModelApiSettings, observe_batch):
        self.settings, self.observe_batch = settings, observe_batch
        self.batchers: dict[str, AsyncBatcher] = {}
        warm(settings)

    async def predict(self, features: list[float], model: str | None, deadline: Deadline | None = None) -> dict:
        s = self.settings
        started(deadline)
        if s.max_wait_ms is None:
            self.observe_batch(1)
            return (await run_async(s, plan(s, features, model)))[0]
        name = model_name(s, model)
        batcher = self.batchers.get(name)
        if batcher is None:
            run = lambda items, name=name: run_async(s, plan_batch(s, items, name))  # noqa: E731
            batcher = self.batchers[name] = AsyncBatcher(run, s.max_batch_size, s.max_wait_ms, self.observe_batch)
        try:
            return await asyncio.wait_for(batcher.submit(features), wait_s(deadline))  # past it, out of its batch
        except TimeoutError:
            raise gave_up(deadline) from None

    async def predict_batch(
        self, items: list[list[float]], model: str | None, deadline: Deadline | None = None
    ) -> list[dict]:
        started(deadline)
        check_batch_size(items, self.settings.max_batch_size)
        self.observe_batch(len(items))
        return await run_async(self.settings, plan_batch(self.settings, items, model))
