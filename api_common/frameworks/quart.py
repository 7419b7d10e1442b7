"""Quart: Flask's API on ASGI, where a Flask user goes for async, served by uvicorn on the async chain.

Both tiers as Quart apps over the same service layers and clients as the FastAPI twin. Errors leave in
the lab's shape from Quart's error handlers; the overload policy, the request metrics and the drain are
the twins' pure ASGI middlewares around Quart's own ASGI app.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

from quart import Quart, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from api_common import deadline, profiling
from api_common.contract import HEALTH_PATH, METRICS_PATH, batch_path, predict_path
from api_common.drain import AsgiDrain
from api_common.errors import ApiError, http_error, internal_error
from api_common.fastapi_glue import AdmissionMiddleware, MetricsMiddleware
from api_common.frameworks import Framework
from api_common.metrics import CONTENT_TYPE, Metrics
from api_common.validation import read_json_stream
from api_model.schemas import FEATURES, batch
from api_model.service import AsyncModel
from api_model.settings import ModelAsyncSettings
from api_scoring import clients_async, service
from api_scoring.schemas import scoring_request
from api_scoring.settings import ScoringAsyncSettings

FRAMEWORK = Framework(
    "quart",
    {("model", "asgi"): f"{__name__}:create_model_app", ("scoring", "asgi"): f"{__name__}:create_scoring_app"},
)
log = logging.getLogger(__name__)


async def read_json_body(adapter, max_bytes: int, json_library: str):
    """The shared rules (``api_common.validation``) on Quart's request body."""
    return await read_json_stream(request.content_type, request.content_length, request.body, adapter, max_bytes,
                                  json_library)  # fmt: skip


def request_deadline() -> deadline.Deadline | None:
    """The deadline the caller sent, if any (Quart does not give the app its socket: no wait to count)."""
    return deadline.of(request.headers.get(deadline.HEADER), None)


def _app(name: str, settings, metrics: Metrics) -> Quart:
    """A Quart app with the lab's error shape, ``/``, the health check, ``/metrics`` and ``?profile=``."""
    app = Quart(name)
    app.config["MAX_CONTENT_LENGTH"] = None  # the shared reader caps bodies, with the lab's 413
    predict = predict_path("async")

    def respond(err: ApiError):
        return jsonify(err.body()), err.status, err.headers

    @app.errorhandler(ApiError)
    async def on_api_error(err: ApiError):
        return respond(err)

    @app.errorhandler(HTTPException)
    async def on_http(e: HTTPException):
        has_body = bool(request.content_length) or "Transfer-Encoding" in request.headers
        return respond(http_error(e.code or 500, e.description, has_body, dict(e.get_headers())))

    @app.errorhandler(Exception)
    async def on_unexpected(exc: Exception):
        log.exception("unhandled error")
        return respond(internal_error())

    @app.before_request
    async def _start() -> None:
        # The metrics middleware labels a request by its route template (scope["route"].path, as Starlette's).
        request.scope["route"] = SimpleNamespace(path=request.url_rule.rule if request.url_rule else "unmatched")
        if request.routing_exception is None:  # a 404 or 405 is answered as such, not as a profiling error
            asked = profiling.requested(request.args.get("profile"), settings.profiling)
            if asked:
                g.profile = profiling.RequestProfile(asked, name, settings.profile_dir, is_async=True)
                g.profile.start()

    @app.after_request
    async def _stop(response: Response) -> Response:
        profile = g.pop("profile", None)
        if profile is not None:
            response.headers[profiling.HEADER] = ", ".join(profile.stop())
        return response

    @app.get("/")
    async def index():
        return {"service": name, "framework": "quart", "predict": f"POST {predict}"}

    @app.get(HEALTH_PATH)
    async def healthcheck():
        return {"status": "OK"}

    @app.get(METRICS_PATH)
    async def expose():
        return Response(metrics.expose(), content_type=CONTENT_TYPE)

    app.asgi_app = AsgiDrain(MetricsMiddleware(AdmissionMiddleware(app.asgi_app, settings), metrics))
    return app


def create_model_app(settings: ModelAsyncSettings | None = None) -> Quart:
    settings = settings or ModelAsyncSettings()
    metrics = Metrics("model-async")
    app = _app("model-async", settings, metrics)
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


def create_scoring_app(settings: ScoringAsyncSettings | None = None) -> Quart:
    settings = settings or ScoringAsyncSettings()
    schema = scoring_request(settings.entity_features)
    store, fanout = clients_async.feature_reader(settings), clients_async.model_fanout(settings)
    metrics = Metrics("scoring-async")
    app = _app("scoring-async", settings, metrics)

    @app.before_serving
    async def _open() -> None:  # shared clients live in the worker's event loop
        await store.start()
        await fanout.start()

    @app.after_serving
    async def _close() -> None:
        await fanout.close()
        await store.close()

    @app.post(predict_path("async"))
    async def predict():
        timings = service.Timings()
        body = await read_json_body(schema, settings.max_body_bytes, settings.json_library)
        deadline_ = service.request_deadline(settings, request.headers.get(deadline.HEADER))
        profile = request.args.get("profile") if "profile" in g else None
        answer = await service.score_async(settings, body, store, fanout, profile, timings, deadline_)
        metrics.observe_steps(timings.spans)
        return answer, 200, {"Server-Timing": timings.header()}

    return app
