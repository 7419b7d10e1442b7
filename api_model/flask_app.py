"""The sync model API: Flask, served by gunicorn. The model waits with ``time.sleep``."""

from __future__ import annotations

from flask import Flask, jsonify, request

from api_common.contract import HEALTH_PATH, batch_path, predict_path
from api_common.flask_glue import (
    install_error_handlers,
    install_json,
    install_layers,
    read_json_body,
    request_deadline,
)
from api_common.metrics import Metrics
from api_model.schemas import FEATURES, batch
from api_model.service import BlockingModel
from api_model.settings import ModelSyncSettings

PREDICT_PATH, BATCH_PATH = predict_path("sync"), batch_path("sync")


def create_app(settings: ModelSyncSettings | None = None) -> Flask:
    settings = settings or ModelSyncSettings()
    app = Flask(__name__)
    install_error_handlers(app)
    install_json(app, settings.json_library)
    metrics = Metrics("model-sync", settings.metrics)
    install_layers(app, settings, metrics, "model-sync")
    predictor = BlockingModel(settings, metrics.observe_batch)
    items = batch(settings.max_batch_size)

    @app.get("/")
    def index():
        return jsonify(service="model-sync", framework="flask", predict=f"POST {PREDICT_PATH}")

    @app.get(HEALTH_PATH)
    def healthcheck():
        return jsonify(status="OK")

    @app.post(PREDICT_PATH)
    def predict():
        features = read_json_body(request, FEATURES, settings.max_body_bytes, settings.json_library)
        return jsonify(predictor.predict(features, request.args.get("model"), request_deadline(request)))

    @app.post(BATCH_PATH)
    def predict_batch():
        body = read_json_body(request, items, settings.max_body_bytes, settings.json_library)
        return jsonify(predictor.predict_batch(body, request.args.get("model"), request_deadline(request)))

    return app
