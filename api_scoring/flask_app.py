"""The sync scoring handler: Flask on gunicorn, with blocking clients made once per worker process."""

from __future__ import annotations

from flask import Flask, g, jsonify, request

from api_common.contract import HEALTH_PATH, predict_path
from api_common.deadline import HEADER
from api_common.flask_glue import (
    install_error_handlers,
    install_json,
    install_layers,
    read_json_body,
)
from api_common.metrics import Metrics
from api_scoring import clients_async, clients_sync, service
from api_scoring.schemas import scoring_request
from api_scoring.settings import ScoringSyncSettings

PREDICT_PATH = predict_path("sync")


def create_app(settings: ScoringSyncSettings | None = None) -> Flask:
    settings = settings or ScoringSyncSettings()
    schema = scoring_request(settings.entity_features)
    app = Flask(__name__)
    install_error_handlers(app)
    install_json(app, settings.json_library)
    metrics = Metrics("scoring-sync", settings.metrics)
    install_layers(app, settings, metrics, "scoring-sync")

    # Made once per worker process (gunicorn loads the app after forking), never per request,
    # unless a seed-faithful variant asks for the per-request code paths.
    features_store = clients_sync.feature_reader(settings)
    fanout = clients_sync.fanout(settings)
    if settings.endpoint == "async":
        # An ``async def`` view (the sync-async-views variant): Flask runs each call in a new event loop
        # (asgiref's async_to_sync) inside the sync worker, so an async client cannot outlive one request.
        features_store = clients_async.PerRequestFeatureReader(settings)
        fanout = clients_async.PerRequestModelFanout(settings)

    @app.get("/")
    def index():
        return jsonify(service="scoring-sync", framework="flask", predict=f"POST {PREDICT_PATH}")

    @app.get(HEALTH_PATH)
    def healthcheck():
        return jsonify(status="OK")

    def respond(timings: service.Timings | None, answer: dict):
        resp = jsonify(answer)
        resp.headers.update(service.timed(settings, metrics, timings))
        return resp

    if settings.endpoint == "async":

        @app.post(PREDICT_PATH)
        async def predict_async():
            timings = service.timings(settings)
            body = read_json_body(request, schema, settings.max_body_bytes, settings.json_library)
            profile, deadline = g.get("profiler_name"), service.request_deadline(settings, request.headers.get(HEADER))
            answer = await service.score_async(settings, body, features_store, fanout, profile, timings, deadline)
            return respond(timings, answer)

        return app

    @app.post(PREDICT_PATH)
    def predict():
        timings = service.timings(settings)
        body = read_json_body(request, schema, settings.max_body_bytes, settings.json_library)
        profile, deadline = g.get("profiler_name"), service.request_deadline(settings, request.headers.get(HEADER))
        return respond(timings, service.score(settings, body, features_store, fanout, profile, timings, deadline))

    return app
