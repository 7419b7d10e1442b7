"""The async scoring handler on Starlette, served by uvicorn: the FastAPI twin's clients and service layer without
FastAPI's own layer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api_common.contract import predict_path
from api_common.deadline import HEADER
from api_common.fastapi_glue import read_json_body, response_class
from api_common.metrics import Metrics
from api_common.starlette_glue import create_app as starlette_app
from api_scoring import clients_async, service
from api_scoring.schemas import scoring_request
from api_scoring.settings import ScoringAsyncSettings


def create_app(settings: ScoringAsyncSettings | None = None) -> Starlette:
    settings = settings or ScoringAsyncSettings()
    schema = scoring_request(settings.entity_features)
    store, fanout = clients_async.feature_reader(settings), clients_async.model_fanout(settings)
    metrics = Metrics("scoring-async", settings.metrics)
    render = response_class(settings.json_library)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:  # shared clients live in the worker's event loop
        await store.start()
        await fanout.start()
        yield
        await fanout.close()
        await store.close()

    async def predict(request: Request) -> Response:
        timings = service.timings(settings)
        body = await read_json_body(request, schema, settings.max_body_bytes, settings.json_library)
        profile, budget = request.query_params.get("profile"), request.headers.get(HEADER)
        answer = await service.score_async(settings, body, store, fanout, profile, timings,
                                           service.request_deadline(settings, budget))  # fmt: skip
        return render(answer, headers=service.timed(settings, metrics, timings))

    route = Route(predict_path("async"), predict, methods=["POST"])
    return starlette_app("scoring-async", settings, [route], metrics, lifespan)
