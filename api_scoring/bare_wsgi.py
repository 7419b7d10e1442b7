"""The sync floor's scoring handler: the shared scoring steps behind a bare WSGI app, no framework."""

from __future__ import annotations

from api_common import bare
from api_common.contract import HEALTH_PATH, predict_path
from api_common.deadline import HEADER
from api_common.validation import parse_body
from api_scoring import clients_sync, service
from api_scoring.schemas import scoring_request
from api_scoring.settings import ScoringSyncSettings


def create_app(settings: ScoringSyncSettings | None = None):
    settings = settings or ScoringSyncSettings()
    schema = scoring_request(settings.entity_features)
    store = clients_sync.feature_reader(settings)
    fanout = clients_sync.fanout(settings)

    def predict(query: dict[str, str], raw: bytes, headers: dict[str, str]) -> bare.Answer:
        timings = service.Timings() if settings.server_timing else None
        body = parse_body(raw, schema, settings.max_body_bytes, settings.json_library)
        deadline = service.request_deadline(settings, headers.get(HEADER.lower()))
        answer = service.score(settings, body, store, fanout, None, timings, deadline)
        return bare.ok(answer, {"Server-Timing": timings.header()} if timings else {})

    routes = {
        ("GET", HEALTH_PATH): lambda query, raw, headers: bare.ok({"status": "OK"}),
        ("POST", predict_path("sync")): predict,
    }
    return bare.wsgi(routes, settings.max_body_bytes, settings.json_library, drain=settings.drain)
