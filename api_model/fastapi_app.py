"""The async model API: FastAPI, served by uvicorn. The model waits with ``asyncio.sleep``."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, Request

from api_common.contract import HEALTH_PATH, predict_path
from api_common.fastapi_glue import (
    InFlightLimitMiddleware,
    MetricsMiddleware,
    ProfilingMiddleware,
    install_error_handlers,
    json_body_doc,
    metrics_route,
    read_json_body,
    response_class,
)
from api_common.metrics import Metrics
from api_model.model import burn_cpu
from api_model.schemas import FEATURES, Prediction
from api_model.service import plan
from api_model.settings import ModelAsyncSettings

PREDICT_PATH = predict_path("async")


def create_app(settings: ModelAsyncSettings | None = None) -> FastAPI:
    settings = settings or ModelAsyncSettings()
    app = FastAPI(
        title="Model API (async)", version="1.0", default_response_class=response_class(settings.json_library)
    )
    install_error_handlers(app)
    metrics = Metrics("model-async")
    metrics_route(app, metrics)
    app.add_middleware(
        ProfilingMiddleware, service="model-async", enabled=settings.profiling, folder=settings.profile_dir
    )

    @app.get("/")
    async def index() -> dict:
        return {
            "service": "model-async",
            "framework": "fastapi",
            "predict": f"POST {PREDICT_PATH}",
            "docs": "/docs",
        }

    @app.get(HEALTH_PATH)
    async def healthcheck() -> dict:
        return {"status": "OK"}

    @app.post(PREDICT_PATH, response_model=Prediction, openapi_extra=json_body_doc(FEATURES))
    async def predict(request: Request, model: str | None = None, profile: str | None = None) -> dict:
        features = await read_json_body(request, FEATURES, settings.max_body_bytes, settings.json_library)
        job = plan(settings, features, model)
        if settings.kind == "cpu":
            burn_cpu(job.latency_ms / 1000)  # blocks the event loop on purpose: that is what CPU-bound means
        else:
            await asyncio.sleep(job.latency_ms / 1000)
        return job.result()

    app.add_middleware(InFlightLimitMiddleware, limit=settings.max_in_flight)

    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: it times everything
    return app
