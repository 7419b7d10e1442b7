"""The async floor's model API: the same model behind a bare ASGI app, no framework."""

from __future__ import annotations

import asyncio

from api_common import bare
from api_common.contract import HEALTH_PATH, predict_path
from api_common.validation import parse_body
from api_model.model import burn_cpu
from api_model.schemas import FEATURES
from api_model.service import plan
from api_model.settings import ModelAsyncSettings


def create_app(settings: ModelAsyncSettings | None = None):
    settings = settings or ModelAsyncSettings()

    async def health(query: dict[str, str], raw: bytes) -> bare.Answer:
        return bare.ok({"status": "OK"})

    async def predict(query: dict[str, str], raw: bytes) -> bare.Answer:
        features = parse_body(raw, FEATURES, settings.max_body_bytes, settings.json_library)
        job = plan(settings, features, query.get("model"))
        if settings.kind == "cpu":
            burn_cpu(job.latency_ms / 1000)  # blocks the event loop on purpose: that is what CPU-bound means
        else:
            await asyncio.sleep(job.latency_ms / 1000)
        return bare.ok(job.result())

    routes = {("GET", HEALTH_PATH): health, ("POST", predict_path("async")): predict}
    return bare.asgi(routes, settings.max_body_bytes, settings.json_library)
