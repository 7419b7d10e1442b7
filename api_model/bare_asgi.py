"""The async floor's model API: the same model behind a bare ASGI app, no framework."""

from __future__ import annotations

from api_common import bare
from api_common.contract import HEALTH_PATH, predict_path
from api_common.validation import parse_body
from api_model.schemas import FEATURES
from api_model.service import plan, run_async
from api_model.settings import ModelAsyncSettings


def create_app(settings: ModelAsyncSettings | None = None):
    settings = settings or ModelAsyncSettings()

    async def health(query: dict[str, str], raw: bytes, headers: dict[str, str]) -> bare.Answer:
        return bare.ok({"status": "OK"})

    async def predict(query: dict[str, str], raw: bytes, headers: dict[str, str]) -> bare.Answer:
        features = parse_body(raw, FEATURES, settings.max_body_bytes, settings.json_library)
        return bare.ok((await run_async(settings, plan(settings, features, query.get("model"))))[0])

    routes = {("GET", HEALTH_PATH): health, ("POST", predict_path("async")): predict}
    return bare.asgi(routes, settings.max_body_bytes, settings.json_library, drain=settings.drain)
