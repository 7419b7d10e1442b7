"""The sync floor's model API: the same model behind a bare WSGI app, no framework."""

from __future__ import annotations

from api_common import bare
from api_common.contract import HEALTH_PATH, predict_path
from api_common.validation import parse_body
from api_model.schemas import FEATURES
from api_model.service import plan, run_blocking
from api_model.settings import ModelSyncSettings


def create_app(settings: ModelSyncSettings | None = None):
    settings = settings or ModelSyncSettings()

    def predict(query: dict[str, str], raw: bytes, headers: dict[str, str]) -> bare.Answer:
        features = parse_body(raw, FEATURES, settings.max_body_bytes, settings.json_library)
        return bare.ok(run_blocking(settings, plan(settings, features, query.get("model")))[0])

    routes = {
        ("GET", HEALTH_PATH): lambda query, raw, headers: bare.ok({"status": "OK"}),
        ("POST", predict_path("sync")): predict,
    }
    return bare.wsgi(routes, settings.max_body_bytes, settings.json_library, drain=settings.drain)
