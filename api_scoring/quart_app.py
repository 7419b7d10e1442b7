"""The async scoring handler on Quart (Flask's API on ASGI), served by uvicorn: the FastAPI twin's clients and
service layer."""

from __future__ import annotations

from quart import Quart, g, request

from api_common import deadline
from api_common.contract import predict_path
from api_common.metrics import Metrics
from api_common.quart_glue import create_app as quart_app
from api_common.quart_glue import read_json_body
from api_scoring import clients_async, service
from api_scoring.schemas import scoring_request
from api_scoring.settings import ScoringAsyncSettings


def create_app(settings: ScoringAsyncSettings | None = None) -> Quart:
    settings = settings or ScoringAsyncSettings()
    schema = scoring_request(settings.entity_features)
    store, fanout = clients_async.feature_reader(settings), clients_async.model_fanout(settings)
    metrics = Metrics("scoring-async", settings.metrics)
    app = quart_app("scoring-async", settings, metrics)

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
        timings = service.timings(settings)
        body = await read_json_body(schema, settings.max_body_bytes, settings.json_library)
        deadline_ = service.request_deadline(settings, request.headers.get(deadline.HEADER))
        profile = request.args.get("profile") if "profile" in g else None
        answer = await service.score_async(settings, body, store, fanout, profile, timings, deadline_)
        return answer, 200, service.timed(settings, metrics, timings)

    return app
