"""Flask side of the shared conventions: JSON errors everywhere and a capped body reader."""

from __future__ import annotations

import logging
from typing import TypeVar

from flask import Flask, Request, jsonify
from pydantic import TypeAdapter
from werkzeug.exceptions import HTTPException

from api_common import deadline, overload
from api_common.drain import WsgiDrain
from api_common.errors import ApiError, http_error, internal_error
from api_common.validation import check_content_type, check_declared_size, parse_body

T = TypeVar("T")
log = logging.getLogger(__name__)


def install_error_handlers(app: Flask) -> None:
    """Every error, ours or Werkzeug's, leaves as ``{"error", "message"}`` JSON."""

    def respond(err: ApiError):
        return jsonify(err.body()), err.status, err.headers

    app.register_error_handler(ApiError, respond)

    def on_http(e: HTTPException):
        from flask import request

        has_body = bool(request.content_length) or "Transfer-Encoding" in request.headers
        return respond(http_error(e.code or 500, e.description, has_body, dict(e.get_headers())))

    app.register_error_handler(HTTPException, on_http)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return respond(internal_error())


def read_json_body(request: Request, adapter: TypeAdapter[T], max_bytes: int, json_library: str = "stdlib") -> T:
    """Check type and size before reading, then parse and validate with the shared rules."""
    check_content_type(request.content_type)
    check_declared_size(request.content_length, max_bytes)
    raw = request.stream.read(max_bytes + 1)
    return parse_body(raw, adapter, max_bytes, json_library)


def install_json(app: Flask, json_library: str) -> None:
    """Render JSON answers with orjson when asked (errors keep the same shape; only the encoder changes)."""
    if json_library != "orjson":
        return
    import orjson
    from flask.json.provider import DefaultJSONProvider

    class OrjsonProvider(DefaultJSONProvider):
        def dumps(self, obj, **kwargs) -> str:
            return orjson.dumps(obj).decode()

    app.json = OrjsonProvider(app)


def socket_of(request: Request):
    """The request's socket, where gunicorn gives it (``sync``, ``gthread`` and ``gevent`` workers)."""
    env = request.environ
    return env.get("gunicorn.socket") or env.get("gunicorn.sock")


def request_deadline(request: Request) -> deadline.Deadline | None:
    """The deadline a caller sent (``api_common.deadline``), counted from the request's arrival."""
    budget = deadline.budget_s(request.headers.get(deadline.HEADER))
    if budget is None:
        return None
    return deadline.Deadline.after(budget, overload.socket_wait_s(socket_of(request)) or 0.0)


def install_admission(app: Flask, settings) -> None:
    """The overload policy (``api_common.overload``). A request's wait to start is read from its connection
    (gunicorn gives the socket: ``sync``, ``gthread`` and ``gevent`` workers); a server that does not give
    it reports none. ``fixed`` needs a worker that holds several requests (threads or gevent): a gunicorn
    ``sync`` worker holds one at a time and queues the rest in its listen backlog."""
    from flask import g, request

    # A worker the server registry says admits any number (gevent's greenlets) shares itself among them like an
    # event loop: it reads each request at once, so the queue is inside it, not in the socket's wait.
    shares = settings.runner().holds(settings) is None
    policy = overload.admission(
        settings.admission,
        settings.max_in_flight,
        settings.admission_target_ms,
        settings.admission_interval_ms,
        event_loop=shares,
    )
    measured = isinstance(policy, overload.DelayAdmission)

    @app.before_request
    def _admit():
        wait = overload.socket_wait_s(socket_of(request)) if measured and request.method == "POST" else None
        g.admission_ticket = policy.enter(request.method, wait)

    @app.teardown_request
    def _release(_exc):
        ticket = g.pop("admission_ticket", None)
        if ticket is not None:
            policy.leave(ticket)


def install_profiling(app: Flask, service: str, enabled: bool, folder) -> None:
    """``?profile=pyinstrument|yappi`` profiles this request when the service allows it."""
    from flask import g, request

    from api_common import profiling

    @app.before_request
    def _start():
        if request.routing_exception is not None:  # a 404 or 405 is answered as such, not as a profiling error
            return
        profiler = profiling.requested(request.args.get("profile"), enabled)
        if profiler:
            g.profiler_name = profiler
            g.profile = profiling.RequestProfile(profiler, service, folder, is_async=False)
            g.profile.start()

    @app.after_request
    def _stop(response):
        profile = g.pop("profile", None)
        if profile is not None:
            response.headers[profiling.HEADER] = ", ".join(profile.stop())
        return response


def install_layers(app: Flask, settings, metrics, service: str) -> None:
    """The lab's own layers, each only when its setting is on (``ServiceSettings``: ``lab ablation`` takes them out
    one at a time): the ``?profile=`` hook, the request metrics (``/metrics`` is served either way), the overload
    policy, and the drain, which reaches a client that sent more than was read (``api_common.drain``: the outermost
    layer, around Flask's own)."""
    if settings.profiling_hook:
        install_profiling(app, service, settings.profiling, settings.profile_dir)
    if settings.metrics:
        install_metrics(app, metrics)
    metrics_route(app, metrics)
    if settings.admission != "off":
        install_admission(app, settings)
    if settings.drain:
        app.wsgi_app = WsgiDrain(app.wsgi_app)


def metrics_route(app: Flask, metrics) -> None:
    from flask import Response

    from api_common.metrics import CONTENT_TYPE

    @app.get("/metrics")
    def _metrics():
        return Response(metrics.expose(), mimetype=CONTENT_TYPE)


def install_metrics(app: Flask, metrics) -> None:
    """Count and time every request per route template."""
    import time

    from flask import g, request

    @app.before_request
    def _begin():
        g.metrics_t0 = time.perf_counter()
        metrics.started()

    @app.after_request
    def _end(response):
        if "metrics_t0" in g:
            route = request.url_rule.rule if request.url_rule else "unmatched"
            metrics.finished(route, request.method, response.status_code, time.perf_counter() - g.pop("metrics_t0"))
        return response
