"""The sync model API: Flask, served by gunicorn. The model waits with ``time.sleep``."""

from __future__ import annotations

import time

from flask import Flask, jsonify, request

from api_common.contract import HEALTH_PATH, predict_path
from api_common.flask_glue import (
    install_error_handlers,
    install_in_flight_limit,
    install_json,
    install_metrics,
    install_profiling,
    read_json_body,
)
from api_common.metrics import Metrics
from api_model.model import burn_cpu
from api_model.schemas import FEATURES
from api_model.service import plan
from api_model.settings import ModelSyncSettings

PREDICT_PATH = predict_path("sync")


def create_app(settings: ModelSyncSettings | None = None) -> Flask:
    settings = settings or ModelSyncSettings()
    app = Flask(__name__)
    install_error_handlers(app)
    install_json(app, settings.json_library)
    install_profiling(app, "model-sync", settings.profiling, settings.profile_dir)
    install_metrics(app, Metrics("model-sync"))
    install_in_flight_limit(app, settings.max_in_flight)

    @app.get("/")
    def index():
        return jsonify(service="model-sync", framework="flask", predict=f"POST {PREDICT_PATH}")

    @app.get(HEALTH_PATH)
    def healthcheck():
        return jsonify(status="OK")

    @app.post(PREDICT_PATH)
    def predict():
        features = read_json_body(request, FEATURES, settings.max_body_bytes, settings.json_library)
        job = plan(settings, features, request.args.get("model"))
        if settings.kind == "cpu":
            burn_cpu(job.latency_ms / 1000)
        else:
            time.sleep(job.latency_ms / 1000)
        return jsonify(job.result())

    return app
