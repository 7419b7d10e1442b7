"""Quart's glue: the lab's error shape, ``/``, the health check, ``/metrics``, ``?profile=`` and the twins' pure
ASGI middlewares around a Quart app; each tier's ``quart_app.py`` adds its routes over its service layer.

Errors leave in the lab's shape from Quart's error handlers; the overload policy, the request metrics and the
drain are the FastAPI twin's pure ASGI middlewares (``api_common.fastapi_glue``) around Quart's own ASGI app.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

from quart import Quart, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from api_common import deadline, profiling
from api_common.contract import HEALTH_PATH, METRICS_PATH, predict_path
from api_common.errors import ApiError, http_error, internal_error
from api_common.fastapi_glue import wrap_layers
from api_common.metrics import CONTENT_TYPE, Metrics
from api_common.validation import read_json_stream

log = logging.getLogger(__name__)


async def read_json_body(adapter, max_bytes: int, json_library: str):
    """The shared rules (``api_common.validation``) on Quart's request body."""
    return await read_json_stream(request.content_type, request.content_length, request.body, adapter, max_bytes,
                                  json_library)  # fmt: skip


def request_deadline() -> deadline.Deadline | None:
    """The deadline the caller sent, if any (Quart does not give the app its socket: no wait to count)."""
    return deadline.of(request.headers.get(deadline.HEADER), None)


def create_app(name: str, settings, metrics: Metrics) -> Quart:
    """A Quart app with the lab's error shape, ``/``, the health check, ``/metrics``, ``?profile=`` and the twins'
    middlewares around it; the caller adds its routes."""
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
        # A 404 or 405 is answered as such, not as a profiling error; without the hook the query is ignored.
        if request.routing_exception is None and settings.profiling_hook:
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

    app.asgi_app = wrap_layers(app.asgi_app, settings, metrics)
    return app
