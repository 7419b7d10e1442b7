"""The async scoring handler: FastAPI on uvicorn, with non-blocking clients opened per worker.

The ``endpoint = "def"`` variant runs the same steps in FastAPI's thread pool, with the blocking
clients of the Flask twin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api_common.contract import HEALTH_PATH, predict_path
from api_common.deadline import HEADER
from api_common.fastapi_glue import (
    BODY_ERRORS,
    error_responses,
    install_error_handlers,
    install_layers,
    json_body_doc,
    metrics_route,
    read_json_body,
    response_class,
)
from api_common.metrics import Metrics
from api_scoring import clients_async, clients_sync, service
from api_scoring.schemas import scoring_request
from api_scoring.settings import ScoringAsyncSettings

PREDICT_PATH = predict_path("async")


def create_app(settings: ScoringAsyncSettings | None = None) -> FastAPI:
    settings = settings or ScoringAsyncSettings()
    schema = scoring_request(settings.entity_features)
    blocking = settings.endpoint == "def"
    if blocking:
        store = clients_sync.feature_reader(settings)
        fanout = clients_sync.fanout(settings)
    else:
        store, fanout = clients_async.feature_reader(settings), clients_async.model_fanout(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Shared clients are opened once per worker process, inside its event loop, closed at shutdown.
        if not blocking:
            await store.start()
            await fanout.start()
        yield
        if blocking:
            store.close()
        else:
            await fanout.close()
            await store.close()

    app = FastAPI(title="Scoring handler (async)", version="1.0", lifespan=lifespan)
    install_error_handlers(app)
    metrics = Metrics("scoring-async", settings.metrics)
    metrics_route(app, metrics)
    render = response_class(settings.json_library)

    def respond(timings: service.Timings | None, answer: dict) -> JSONResponse:
        return render(answer, headers=service.timed(settings, metrics, timings))

    @app.get("/")
    async def index() -> dict:
        return {"service": "scoring-async", "framework": "fastapi", "predict": f"POST {PREDICT_PATH}", "docs": "/docs"}

    @app.get(HEALTH_PATH)
    async def healthcheck() -> dict:
        return {"status": "OK"}

    errors = error_responses(*BODY_ERRORS, 404, 502, 504)  # the entity unknown; the model API failed or late

    @app.post(PREDICT_PATH, responses=errors, openapi_extra=json_body_doc(schema))
    async def predict(request: Request) -> JSONResponse:
        timings = service.timings(settings)
        body = await read_json_body(request, schema, settings.max_body_bytes, settings.json_library)
        profile = request.query_params.get("profile")
        deadline = service.request_deadline(settings, request.headers.get(HEADER))
        if blocking:
            # The body is read on the loop (it is a stream); the steps run in FastAPI's thread pool.
            answer = await run_in_threadpool(service.score, settings, body, store, fanout, profile, timings, deadline)
        else:
            answer = await service.score_async(settings, body, store, fanout, profile, timings, deadline)
        return respond(timings, answer)

    install_layers(app, settings, metrics, "scoring-async")
    return app
