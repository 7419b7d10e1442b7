"""The async scoring handler: FastAPI on uvicorn, with non-blocking clients opened per worker.

The ``endpoint = "def"`` variant serves the same route from a plain function, which FastAPI runs
in its thread pool, with the blocking clients of the Flask twin.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api_common.fastapi_glue import (
    MetricsMiddleware,
    ProfilingMiddleware,
    install_error_handlers,
    json_body_doc,
    metrics_route,
    read_json_body,
)
from api_common.metrics import Metrics
from api_scoring import clients_async, clients_sync, service
from api_scoring.schemas import SCORING_REQUEST
from api_scoring.settings import ScoringAsyncSettings

PREDICT_PATH = "/api/v1/ml/async/predict"


def create_app(settings: ScoringAsyncSettings | None = None) -> FastAPI:
    settings = settings or ScoringAsyncSettings()
    blocking = settings.endpoint == "def"
    if blocking:
        store, fanout = clients_sync.feature_reader(settings), None
        sync_fanout = clients_sync.Fanout(settings, clients_sync.model_caller(settings))
    else:
        store, fanout = clients_async.feature_reader(settings), clients_async.model_fanout(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Shared clients are opened once per worker process, inside its event loop, closed at shutdown.
        if not blocking:
            await store.start()
            await fanout.start()
        yield
        if blocking:
            store.close()
        else:
            await fanout.close()
            await store.close()

    app = FastAPI(title="Scoring handler (async)", version="1.0", lifespan=lifespan)
    install_error_handlers(app)
    metrics = Metrics("scoring-async")
    metrics_route(app, metrics)
    app.add_middleware(
        ProfilingMiddleware, service="scoring-async", enabled=settings.profiling, folder=settings.profile_dir
    )

    def respond(timings: service.Timings, entity_id: str, scores: list[float]) -> JSONResponse:
        metrics.observe_steps(timings.spans)
        return JSONResponse(service.aggregate(entity_id, scores), headers={"Server-Timing": timings.header()})

    @app.get("/")
    async def index() -> dict:
        return {"service": "scoring-async", "framework": "fastapi", "predict": f"POST {PREDICT_PATH}", "docs": "/docs"}

    @app.get("/api/v1/healthcheck")
    async def healthcheck() -> dict:
        return {"status": "OK"}

    if not blocking:

        @app.post(PREDICT_PATH, openapi_extra=json_body_doc(SCORING_REQUEST))
        async def predict(request: Request) -> JSONResponse:
            timings = service.Timings()
            body = await read_json_body(request, SCORING_REQUEST, settings.max_body_bytes)
            plan = service.plan(settings, body)
            t = time.perf_counter()
            stored = await store.get(plan.redis_key)
            t = timings.mark("redis", t)
            features = service.join(plan, stored)
            scores = await fanout.scores(features, request.query_params.get("profile"))
            timings.mark("models", t)
            return respond(timings, plan.entity_id, scores)

    else:
        from starlette.concurrency import run_in_threadpool

        @app.post(PREDICT_PATH, openapi_extra=json_body_doc(SCORING_REQUEST))
        async def predict_in_threads(request: Request) -> JSONResponse:
            # The body is read on the loop (it is a stream); the handler itself runs in the pool.
            timings = service.Timings()
            body = await read_json_body(request, SCORING_REQUEST, settings.max_body_bytes)
            return await run_in_threadpool(handle_blocking, timings, body, request.query_params.get("profile"))

        def handle_blocking(timings: service.Timings, body, profile: str | None) -> JSONResponse:
            plan = service.plan(settings, body)
            t = time.perf_counter()
            stored = store.get(plan.redis_key)
            t = timings.mark("redis", t)
            features = service.join(plan, stored)
            scores = sync_fanout.scores(features, profile)
            timings.mark("models", t)
            return respond(timings, plan.entity_id, scores)

    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: it times everything
    return app
