"""FastAPI side of the shared conventions: JSON errors everywhere and a capped body reader."""

from __future__ import annotations

import logging
import time
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter
from starlette.exceptions import HTTPException as StarletteHTTPException

from api_common import deadline, overload
from api_common.drain import AsgiDrain
from api_common.errors import ApiError, http_error, internal_error
from api_common.validation import read_json_stream

T = TypeVar("T")
log = logging.getLogger(__name__)


def error_response(err: ApiError) -> JSONResponse:
    """The shared error shape, with the error's status and headers (middlewares answer with it too)."""
    return JSONResponse(err.body(), status_code=err.status, headers=err.headers)


def response_class(json_library: str) -> type[JSONResponse]:
    """The class that renders JSON answers: the standard library's encoder, or orjson's."""
    if json_library == "orjson":
        from fastapi.responses import ORJSONResponse

        return ORJSONResponse
    return JSONResponse


def install_error_handlers(app: FastAPI) -> None:
    """Every error, ours or Starlette's, leaves as ``{"error", "message"}`` JSON."""

    async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        has_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
        return error_response(http_error(exc.status_code, str(exc.detail), has_body, exc.headers))

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        msg = errors[0]["msg"] if errors else "invalid request"
        details = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]} for e in errors]
        return error_response(ApiError(422, "validation_error", msg, details))

    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(internal_error())

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_unexpected)


async def read_json_body(request: Request, adapter: TypeAdapter[T], max_bytes: int, json_library: str = "stdlib") -> T:
    """Check type and size before reading, stop reading past the cap, then parse and validate."""
    declared = request.headers.get("content-length")
    length = int(declared) if declared and declared.isdigit() else None
    return await read_json_stream(request.headers.get("content-type"), length, request.stream(), adapter, max_bytes,
                                  json_library)  # fmt: skip


class ErrorBody(BaseModel):
    """The lab's one error shape (``api_common.errors``), as the OpenAPI document shows it."""

    error: str
    message: str
    details: list[Any] | None = None


# What each status means on the lab's paths: one line each, shown in /docs beside the error schema.
ERROR_MEANINGS = {
    400: "the body is not JSON: malformed, empty or not UTF-8 (`invalid_json`)",
    403: "`?profile=` on a service started without profiling (`profiling_disabled`)",
    404: "no features stored for this entity (`entity_not_found`)",
    413: "the body is over the cap (`payload_too_large`), answered after reading and discarding the rest",
    415: "the Content-Type is not `application/json` (`unsupported_media_type`)",
    422: "valid JSON, not a valid request: wrong types, empty, non-finite, too many features (`validation_error`)",
    500: "an unexpected error (`internal_error`); no stack trace reaches the client",
    502: "the model API is unreachable or answered wrongly (`model_unreachable`, `model_error`)",
    503: "the overload policy refused the request before any of its work, with `Retry-After` (`overloaded`); "
    "or the feature store is down (`feature_store_unavailable`)",
    504: "a model did not answer within its timeout (`model_timeout`)",
}
# Every path that reads a JSON body can answer these.
BODY_ERRORS = (400, 413, 415, 422, 500, 503)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """FastAPI ``responses=`` for the statuses a path can answer, each with the shared error schema."""
    return {status: {"model": ErrorBody, "description": ERROR_MEANINGS[status]} for status in sorted(statuses)}


def json_body_doc(adapter: TypeAdapter[Any]) -> dict[str, Any]:
    """OpenAPI request-body entry for an endpoint that reads its body itself (keeps /docs usable)."""
    schema = adapter.json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        # Our schemas are not recursive, so local references can simply be replaced by their target.
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inline(schema)}}}}


class ProfilingMiddleware:
    """Pure ASGI middleware: ``?profile=pyinstrument|yappi`` profiles one request when allowed.

    A request without ``profile=`` in its query string costs one byte-string search, nothing more.
    """

    def __init__(self, app, service: str, enabled: bool, folder, router):
        self.app = app
        self.service = service
        self.enabled = enabled
        self.folder = folder
        self.router = router

    def routed(self, scope) -> bool:
        from starlette.routing import Match

        return any(route.matches(scope)[0] is Match.FULL for route in self.router.routes)

    async def __call__(self, scope, receive, send):
        asked = scope["type"] == "http" and b"profile=" in scope.get("query_string", b"")
        if not asked or not self.routed(scope):  # no route serves it: the router's 404 or 405, not a profile
            return await self.app(scope, receive, send)
        from urllib.parse import parse_qs

        from api_common import profiling

        value = parse_qs(scope["query_string"].decode("latin-1")).get("profile", [""])[0]
        try:
            profiler = profiling.requested(value, self.enabled)
        except ApiError as err:
            return await error_response(err)(scope, receive, send)
        if profiler is None:
            return await self.app(scope, receive, send)
        profile = profiling.RequestProfile(profiler, self.service, self.folder, is_async=True)
        stopped = False

        async def send_with_files(message):
            nonlocal stopped
            if message["type"] == "http.response.start" and not stopped:
                stopped = True
                files = ", ".join(profile.stop()).encode()
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (profiling.HEADER.lower().encode(), files)],
                }
            await send(message)

        profile.start()
        try:
            await self.app(scope, receive, send_with_files)
        finally:
            if not stopped:
                profile.stop()


def socket_wait_s(receive) -> float | None:
    """How long the request has waited since its last bytes arrived, read from its socket when the server
    lets the app reach it (uvicorn's ``receive`` is a method of its request cycle, which holds the
    transport; ``api_common.drain`` keeps it so); None otherwise."""
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    return overload.socket_wait_s(transport.get_extra_info("socket")) if transport is not None else None


def request_deadline(request: Request) -> deadline.Deadline | None:
    """The deadline a caller sent (``api_common.deadline``), counted from the request's arrival."""
    budget = deadline.budget_s(request.headers.get(deadline.HEADER))
    return None if budget is None else deadline.Deadline.after(budget, socket_wait_s(request.receive) or 0.0)


class AdmissionMiddleware:
    """Pure ASGI middleware: the overload policy (``api_common.overload``), refused before any work.

    A request's wait to start is read from its connection's socket when the server lets the app reach it
    (uvicorn's ``receive`` is a method of its request cycle, which holds the transport); else it is the
    event loop's lag, sampled every quarter of the target (at most 10 ms; started only for such a server).
    """

    def __init__(self, app, settings):
        self.app = app
        self.policy = overload.admission(
            settings.admission,
            settings.max_in_flight,
            settings.admission_target_ms,
            settings.admission_interval_ms,
            event_loop=True,
        )
        self.lag = overload.LoopLag(min(settings.admission_target_ms / 4000, 0.01))

    def wait_s(self, receive) -> float:
        waited = socket_wait_s(receive)
        return self.lag.current() if waited is None else waited

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        measured = scope["method"] == "POST" and isinstance(self.policy, overload.DelayAdmission)
        try:
            ticket = self.policy.enter(scope["method"], self.wait_s(receive) if measured else None)
        except ApiError as err:
            return await error_response(err)(scope, receive, send)
        try:
            await self.app(scope, receive, send)
        finally:
            if ticket is not None:
                self.policy.leave(ticket)


class MetricsMiddleware:
    """Pure ASGI middleware: count and time every HTTP request per route template."""

    def __init__(self, app, metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = 500
        t0 = time.perf_counter()

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.started()
        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.finished(route, scope["method"], status, time.perf_counter() - t0)


def install_layers(app, settings, metrics, service: str) -> None:
    """The lab's own layers around an ASGI app (FastAPI's or Starlette's), each only when its setting is on
    (``ServiceSettings``: ``lab ablation`` takes them out one at a time), added innermost first: the ``?profile=``
    hook, the overload policy, the request metrics, and outermost the drain, so that an early answer still reaches
    a client sending a body."""
    if settings.profiling_hook:
        app.add_middleware(ProfilingMiddleware, service=service, enabled=settings.profiling,
                           folder=settings.profile_dir, router=app.router)  # fmt: skip
    if settings.admission != "off":
        app.add_middleware(AdmissionMiddleware, settings=settings)
    if settings.metrics:
        app.add_middleware(MetricsMiddleware, metrics=metrics)  # it times everything inside it
    if settings.drain:
        app.add_middleware(AsgiDrain)


def wrap_layers(asgi_app, settings, metrics):
    """The same layers around a plain ASGI callable (Quart's), but for the ``?profile=`` hook, which Quart's own
    request hooks carry (``api_common.quart_glue``)."""
    if settings.admission != "off":
        asgi_app = AdmissionMiddleware(asgi_app, settings)
    if settings.metrics:
        asgi_app = MetricsMiddleware(asgi_app, metrics)
    return AsgiDrain(asgi_app) if settings.drain else asgi_app


def metrics_route(app: FastAPI, metrics) -> None:
    from fastapi.responses import Response

    from api_common.metrics import CONTENT_TYPE

    @app.get("/metrics", include_in_schema=False)
    async def _metrics() -> Response:
        return Response(metrics.expose(), media_type=CONTENT_TYPE)
