"""Starlette: the toolkit under FastAPI, without FastAPI's validation and dependency injection.

Both tiers of the async chain as Starlette apps: the same routes, the same service layers, the same body
reader and the same pure ASGI middlewares as the FastAPI twin (``api_common.fastapi_glue``, which works
on Starlette's own request), so one compare splits what FastAPI's own layer costs from the bare floor's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api_common.contract import HEALTH_PATH, METRICS_PATH, batch_path, predict_path
from api_common.deadline import HEADER
from api_common.drain import AsgiDrain
from api_common.fastapi_glue import (
    AdmissionMiddleware,
    MetricsMiddleware,
    ProfilingMiddleware,
    install_error_handlers,
    read_json_body,
    request_deadline,
    response_class,
)
from api_common.frameworks import Framework
from api_common.metrics import CONTENT_TYPE, Metrics
from api_model.schemas import FEATURES, batch
from api_model.service import AsyncModel
from api_model.settings import ModelAsyncSettings
from api_scoring import clients_async, service
from api_scoring.schemas import scoring_request
from api_scoring.settings import ScoringAsyncSettings

FRAMEWORK = Framework(
    "starlette",
    {("model", "asgi"): f"{__name__}:create_model_app", ("scoring", "asgi"): f"{__name__}:create_scoring_app"},
)


def _app(name: str, settings, routes: list[Route], metrics: Metrics, lifespan=None) -> Starlette:
    """The routes with ``/``, the health check and ``/metrics``, inside the twins' middlewares."""
    render = response_class(settings.json_library)

    async def index(_: Request) -> Response:
        return render({"service": name, "framework": "starlette", "predict": f"POST {routes[0].path}"})

    async def health(_: Request) -> Response:
        return render({"status": "OK"})

    async def expose(_: Request) -> Response:
        return Response(metrics.expose(), media_type=CONTENT_TYPE)

    own = [Route("/", index), Route(HEALTH_PATH, health), Route(METRICS_PATH, expose)]
    app = Starlette(routes=routes + own, lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(ProfilingMiddleware, service=name, enabled=settings.profiling, folder=settings.profile_dir,
                       router=app.router)  # fmt: skip
    app.add_middleware(AdmissionMiddleware, settings=settings)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(AsgiDrain)  # outermost, as in the twins
    return app


def create_model_app(settings: ModelAsyncSettings | None = None) -> Starlette:
    settings = settings or ModelAsyncSettings()
    metrics = Metrics("model-async")
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
    return _app("model-async", settings, routes, metrics)


def create_scoring_app(settings: ScoringAsyncSettings | None = None) -> Starlette:
    settings = settings or ScoringAsyncSettings()
    schema = scoring_request(settings.entity_features)
    store, fanout = clients_async.feature_reader(settings), clients_async.model_fanout(settings)
    metrics = Metrics("scoring-async")
    render = response_class(settings.json_library)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:  # shared clients live in the worker's event loop
        await store.start()
        await fanout.start()
        yield
        await fanout.close()
        await store.close()

    async def predict(request: Request) -> Response:
        timings = service.Timings()
        body = await read_json_body(request, schema, settings.max_body_bytes, settings.json_library)
        profile, budget = request.query_params.get("profile"), request.headers.get(HEADER)
        answer = await service.score_async(settings, body, store, fanout, profile, timings,
                                           service.request_deadline(settings, budget))  # fmt: skip
        metrics.observe_steps(timings.spans)
        return render(answer, headers={"Server-Timing": timings.header()})

    return _app("scoring-async", settings, [Route(predict_path("async"), predict, methods=["POST"])], metrics, lifespan)
