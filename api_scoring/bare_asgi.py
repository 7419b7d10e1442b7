"""The async floor's scoring handler: the shared scoring steps behind a bare ASGI app, no framework."""

from __future__ import annotations

from api_common import bare
from api_common.contract import HEALTH_PATH, predict_path
from api_common.deadline import HEADER
from api_common.validation import parse_body
from api_scoring import clients_async, service
from api_scoring.schemas import scoring_request
from api_scoring.settings import ScoringAsyncSettings


def create_app(settings: ScoringAsyncSettings | None = None):
    settings = settings or ScoringAsyncSettings()
    schema = scoring_request(settings.entity_features)
    store, fanout = clients_async.feature_reader(settings), clients_async.model_fanout(settings)

    async def startup() -> None:  # shared clients live in the worker's event loop
        await store.start()
        await fanout.start()

    async def shutdown() -> None:
        await fanout.close()
        await store.close()

    async def health(query: dict[str, str], raw: bytes, headers: dict[str, str]) -> bare.Answer:
        return bare.ok({"status": "OK"})

    async def predict(query: dict[str, str], raw: bytes, headers: dict[str, str]) -> bare.Answer:
        timings = service.Timings() if settings.server_timing else None
        body = parse_body(raw, schema, settings.max_body_bytes, settings.json_library)
        deadline = service.request_deadline(settings, headers.get(HEADER.lower()))
        answer = await service.score_async(settings, body, store, fanout, None, timings, deadline)
        return bare.ok(answer, {"Server-Timing": timings.header()} if timings else {})

    routes = {("GET", HEALTH_PATH): health, ("POST", predict_path("async")): predict}
    return bare.asgi(routes, settings.max_body_bytes, settings.json_library, startup, shutdown, settings.drain)
