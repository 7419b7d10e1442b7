"""The async model API: FastAPI, served by uvicorn. The model waits with ``asyncio.sleep``."""

from __future__ import annotations

from fastapi import FastAPI, Request

from api_common.contract import HEALTH_PATH, batch_path, predict_path
from api_common.drain import AsgiDrain
from api_common.fastapi_glue import (
    AdmissionMiddleware,
    MetricsMiddleware,
    ProfilingMiddleware,
    install_error_handlers,
    json_body_doc,
    metrics_route,
    read_json_body,
    response_class,
)
from api_common.metrics import Metrics
from api_model.schemas import BATCH, FEATURES, Prediction
from api_model.service import AsyncModel
from api_model.settings import ModelAsyncSettings

PREDICT_PATH, BATCH_PATH = predict_path("async"), batch_path("async")


def create_app(settings: ModelAsyncSettings | None = None) -> FastAPI:
    settings = settings or ModelAsyncSettings()
    app = FastAPI(
        title="Model API (async)", version="1.0", default_response_class=response_class(settings.json_library)
    )
    install_error_handlers(app)
    metrics = Metrics("model-async")
    runner = AsyncModel(settings, metrics.observe_batch)
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
        return await runner.predict(features, model)

    @app.post(BATCH_PATH, response_model=list[Prediction], openapi_extra=json_body_doc(BATCH))
    async def predict_batch(request: Request, model: str | None = None) -> list[dict]:
        items = await read_json_body(request, BATCH, settings.max_body_bytes, settings.json_library)
        return await runner.predict_batch(items, model)

    app.add_middleware(AdmissionMiddleware, settings=settings)

    app.add_middleware(MetricsMiddleware, metrics=metrics)  # it times everything
    app.add_middleware(AsgiDrain)  # outermost: an early answer still reaches a client sending a body
    return app
