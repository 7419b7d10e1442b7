"""The async model API: FastAPI, served by uvicorn. The model waits with ``asyncio.sleep``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

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
# The query, as the OpenAPI document shows it. The routes read it themselves and answer with a response of their own,
# as the Flask twin does: the model name is checked by the service layer (schemas.check_model_name) and ``?profile=``
# by its middleware, and an answer built by the service needs no second validation. FastAPI's parameter injection and
# its response model cost this tier about half of its own CPU per request (lab ablation, issue 35; doc/FINDINGS.md).
QUERY_DOC = {"parameters": [
    {"name": "model", "in": "query", "required": False, "schema": {"type": "string", "pattern": MODEL_NAME_PATTERN}},
    {"name": "profile", "in": "query", "required": False, "schema": {"enum": ["pyinstrument", "yappi"]}},
]}  # fmt: skip


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

    render = response_class(settings.json_library)

    @app.post(PREDICT_PATH, response_model=Prediction, response_model_exclude_none=True, responses=errors,
              openapi_extra=json_body_doc(FEATURES) | QUERY_DOC)  # fmt: skip
    async def predict(request: Request) -> Response:
        features = await read_json_body(request, FEATURES, settings.max_body_bytes, settings.json_library)
        return render(await predictor.predict(features, request.query_params.get("model"), request_deadline(request)))

    @app.post(BATCH_PATH, response_model=list[Prediction], response_model_exclude_none=True, responses=errors,
              openapi_extra=json_body_doc(items) | {"parameters": QUERY_DOC["parameters"][:1]})  # fmt: skip
    async def predict_batch(request: Request) -> Response:
        body = await read_json_body(request, items, settings.max_body_bytes, settings.json_library)
        model = request.query_params.get("model")
        return render(await predictor.predict_batch(body, model, request_deadline(request)))

    install_layers(app, settings, metrics, "model-async")
    return app
