"""The async scoring handler: FastAPI on uvicorn, redis.asyncio and one httpx.AsyncClient per worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import redis.asyncio as aredis
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from api_common.errors import ApiError
from api_common.fastapi_glue import ProfilingMiddleware, install_error_handlers, json_body_doc, read_json_body
from api_scoring import service
from api_scoring.schemas import SCORING_REQUEST
from api_scoring.settings import ScoringAsyncSettings

PREDICT_PATH = "/api/v1/ml/async/predict"


def create_app(settings: ScoringAsyncSettings | None = None) -> FastAPI:
    settings = settings or ScoringAsyncSettings()
    model_url = settings.model_url.rstrip("/") + settings.model_path

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Made once per worker process, inside its event loop, and closed at shutdown.
        app.state.store = aredis.Redis.from_url(
            settings.redis_url,
            socket_timeout=settings.redis_timeout_s,
            socket_connect_timeout=settings.redis_timeout_s,
        )
        app.state.http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.model_timeout_s, connect=settings.model_connect_timeout_s),
            limits=httpx.Limits(
                max_connections=settings.model_max_connections,
                max_keepalive_connections=settings.model_max_connections,
            ),
        )
        yield
        await app.state.http.aclose()
        await app.state.store.aclose()

    app = FastAPI(title="Scoring handler (async)", version="1.0", lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(
        ProfilingMiddleware, service="scoring-async", enabled=settings.profiling, folder=settings.profile_dir
    )

    async def call_model(http: httpx.AsyncClient, name: str, features: list[float], profile: str | None) -> float:
        # A profiled request is profiled down the chain: the model API is asked to profile too.
        params = {"model": name, "profile": profile} if profile else {"model": name}
        try:
            resp = await http.post(model_url, params=params, json=features)
        except httpx.TimeoutException:
            raise service.model_timeout(settings.model_timeout_s) from None
        except httpx.HTTPError as exc:
            raise service.model_unreachable(exc) from None
        try:
            body = resp.json()
        except ValueError:
            body = None
        return service.model_score(resp.status_code, body)

    async def call_models(http: httpx.AsyncClient, features: list[float], profile: str | None) -> list[float]:
        names = service.model_names(settings)
        if settings.fanout == "sequential":
            return [await call_model(http, name, features, profile) for name in names]
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(call_model(http, name, features, profile)) for name in names]
        except ExceptionGroup as eg:
            # One failed call cancels its siblings; report the first failure like the sync chain does.
            first = eg.exceptions[0]
            raise first if isinstance(first, ApiError) else eg from None
        return [task.result() for task in tasks]

    @app.get("/")
    async def index() -> dict:
        return {
            "service": "scoring-async",
            "framework": "fastapi",
            "predict": f"POST {PREDICT_PATH}",
            "docs": "/docs",
        }

    @app.get("/api/v1/healthcheck")
    async def healthcheck() -> dict:
        return {"status": "OK"}

    @app.post(PREDICT_PATH, openapi_extra=json_body_doc(SCORING_REQUEST))
    async def predict(request: Request) -> JSONResponse:
        timings = service.Timings()
        body = await read_json_body(request, SCORING_REQUEST, settings.max_body_bytes)
        plan = service.plan(settings, body)
        t = time.perf_counter()
        try:
            stored = await request.app.state.store.get(plan.redis_key)
        except RedisError as exc:
            raise service.redis_unavailable(exc) from None
        t = timings.mark("redis", t)
        features = service.join(plan, stored)
        scores = await call_models(request.app.state.http, features, request.query_params.get("profile"))
        timings.mark("models", t)
        return JSONResponse(service.aggregate(plan.entity_id, scores), headers={"Server-Timing": timings.header()})

    return app
