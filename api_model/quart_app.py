"""The async model API on Quart (Flask's API on ASGI), served by uvicorn: the FastAPI twin's service layer."""

from __future__ import annotations

from quart import Quart, request

from api_common.contract import batch_path, predict_path
from api_common.metrics import Metrics
from api_common.quart_glue import create_app as quart_app
from api_common.quart_glue import read_json_body, request_deadline
from api_model.schemas import FEATURES, batch
from api_model.service import AsyncModel
from api_model.settings import ModelAsyncSettings


def create_app(settings: ModelAsyncSettings | None = None) -> Quart:
    settings = settings or ModelAsyncSettings()
    metrics = Metrics("model-async", settings.metrics)
    app = quart_app("model-async", settings, metrics)
    predictor, items = AsyncModel(settings, metrics.observe_batch), batch(settings.max_batch_size)

    @app.post(predict_path("async"))
    async def predict():
        features = await read_json_body(FEATURES, settings.max_body_bytes, settings.json_library)
        return await predictor.predict(features, request.args.get("model"), request_deadline())

    @app.post(batch_path("async"))
    async def predict_batch():
        body = await read_json_body(items, settings.max_body_bytes, settings.json_library)
        return await predictor.predict_batch(body, request.args.get("model"), request_deadline())

    return app
