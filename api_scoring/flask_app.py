"""The sync scoring handler: Flask on gunicorn, a redis-py pool and one requests.Session per worker."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import redis
import requests
from flask import Flask, g, jsonify, request
from requests.adapters import HTTPAdapter

from api_common.flask_glue import install_error_handlers, install_profiling, read_json_body
from api_scoring import service
from api_scoring.schemas import SCORING_REQUEST
from api_scoring.settings import ScoringSyncSettings

PREDICT_PATH = "/api/v1/ml/sync/predict"


def create_app(settings: ScoringSyncSettings | None = None) -> Flask:
    settings = settings or ScoringSyncSettings()
    app = Flask(__name__)
    install_error_handlers(app)
    install_profiling(app, "scoring-sync", settings.profiling, settings.profile_dir)

    # Made once per worker process (gunicorn loads the app after forking), never per request.
    store = redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
    )
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=max(settings.n_models, 10)))
    pool = ThreadPoolExecutor(settings.n_models * settings.threads) if settings.fanout == "concurrent" else None
    model_url = settings.model_url.rstrip("/") + settings.model_path
    timeout = (settings.model_connect_timeout_s, settings.model_timeout_s)

    def call_model(name: str, features: list[float], profile: str | None) -> float:
        # A profiled request is profiled down the chain: the model API is asked to profile too.
        params = {"model": name, "profile": profile} if profile else {"model": name}
        try:
            resp = session.post(model_url, params=params, json=features, timeout=timeout)
        except requests.Timeout:
            raise service.model_timeout(settings.model_timeout_s) from None
        except requests.RequestException as exc:
            raise service.model_unreachable(exc) from None
        try:
            body = resp.json()
        except ValueError:
            body = None
        return service.model_score(resp.status_code, body)

    @app.get("/")
    def index():
        return jsonify(service="scoring-sync", framework="flask", predict=f"POST {PREDICT_PATH}")

    @app.get("/api/v1/healthcheck")
    def healthcheck():
        return jsonify(status="OK")

    @app.post(PREDICT_PATH)
    def predict():
        timings = service.Timings()
        body = read_json_body(request, SCORING_REQUEST, settings.max_body_bytes)
        plan = service.plan(settings, body)
        t = time.perf_counter()
        try:
            stored = store.get(plan.redis_key)
        except redis.RedisError as exc:
            raise service.redis_unavailable(exc) from None
        t = timings.mark("redis", t)
        features = service.join(plan, stored)
        names = service.model_names(settings)
        profile = g.get("profiler_name")
        if pool is None:
            scores = [call_model(name, features, profile) for name in names]
        else:
            scores = list(pool.map(lambda name: call_model(name, features, profile), names))
        timings.mark("models", t)
        resp = jsonify(service.aggregate(plan.entity_id, scores))
        resp.headers["Server-Timing"] = timings.header()
        return resp

    return app
