"""The async model API on Starlette, served by uvicorn: the FastAPI twin's routes without FastAPI's own layer."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api_common.contract import batch_path, predict_path
from api_common.fastapi_glue import read_json_body, request_deadline, response_class
from api_common.metrics import Metrics
from api_common.starlette_glue import create_app as starlette_app
from api_model.schemas import FEATURES, batch
from api_model.service import AsyncModel
from api_model.settings import ModelAsyncSettings


def create_app(settings: ModelAsyncSettings | None = None) -> Starlette:
    settings = settings or ModelAsyncSettings()
    metrics = Metrics("model-async", settings.metrics)
    predictor = AsyncModel(settings, metrics.observe_batch)
    render, items = response_class(settings.json_library), batch(settings.max_batch_size)

    async def predict(request: Request) -> Response:
        features = await read_json_body(request, FEATURES, settings.max_body_bytes, settings.json_library)
        return render(await predictor.predict(features, request.query_params.get("model"), request_deadline(request)))

    async def predict_batch(request: Request) -> Response:
        body = await read_json_body(request, items, settings.max_body_bytes, settings.json_library)
        model = request.query_params.get("model")
        return render(await predictor.predict_batch(body, model, request_deadline(request)))

    routes = [Route(predict_path("async"), predict, methods=["POST"]),
              Route(batch_path("async"), predict_batch, methods=["POST"])]  # fmt: skip
    return starlette_app("model-async", settings, routes, metrics)
