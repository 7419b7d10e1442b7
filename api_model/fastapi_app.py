"""The async model API: FastAPI, served by uvicorn. The model waits with ``asyncio.sleep``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import FastAPI, Query, Request

from api_common.contract import HEALTH_PATH, batch_path, predict_path
from api_common.fastapi_glue import (
    BODY_ERRORS,
    error_responses,
    install_error_handlers,
    install_layers,
    json_body_doc,
    metrics_route,
    read_json_body,
    request_deadline,
    response_class,
)
from api_common.metrics import Metrics
from api_model.schemas import FEATURES, MODEL_NAME_PATTERN, Prediction, batch
from api_model.service import AsyncModel
from api_model.settings import ModelAsyncSettings

PREDICT_PATH, BATCH_PATH = predict_path("async"), batch_path("async")
# The query's rules in the OpenAPI document, checked by FastAPI: a model name, a profiler.
ModelName = Annotated[str | None, Query(pattern=MODEL_NAME_PATTERN)]
Profiler = Literal["pyinstrument", "yappi"] | None


def create_app(settings: ModelAsyncSettings | None = None) -> FastAPI:
    settings = settings or ModelAsyncSettings()
    app = FastAPI(
        title="Model API (async)", version="1.0", default_response_class=response_class(settings.json_library)
    )
    install_error_handlers(app)
    metrics = Metrics("model-async", settings.metrics)
    predictor = AsyncModel(settings, metrics.observe_batch)
    metrics_route(app, metrics)

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

    errors = error_responses(*BODY_ERRORS, 403, 504)  # 403: ?profile=; 504: a batch that did not answer
    items = batch(settings.max_batch_size)

    @app.post(PREDICT_PATH, response_model=Prediction, response_model_exclude_none=True, responses=errors,
              openapi_extra=json_body_doc(FEATURES))  # fmt: skip
    async def predict(request: Request, model: ModelName = None, profile: Profiler = None) -> dict:
        features = await read_json_body(request, FEATURES, settings.max_body_bytes, settings.json_library)
        return await predictor.predict(features, model, request_deadline(request))

    @app.post(BATCH_PATH, response_model=list[Prediction], response_model_exclude_none=True, responses=errors,
              openapi_extra=json_body_doc(items))  # fmt: skip
    async def predict_batch(request: Request, model: ModelName = None) -> list[dict]:
        body = await read_json_body(request, items, settings.max_body_bytes, settings.json_library)
        return await predictor.predict_batch(body, model, request_deadline(request))

    install_layers(app, settings, metrics, "model-async")
    return app
