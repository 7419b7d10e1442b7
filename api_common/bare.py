"""The floor's plumbing: a WSGI or ASGI app with no framework, keeping the lab's contract.

Routes map (method, path) to a handler that gets the query, the raw body and the request's headers
(lower-case names) and returns the status,
the JSON answer and extra headers. Bodies are checked and capped by the shared rules
(``api_common.validation``) and every error leaves in the shared shape, so the floor chains answer
like the twins; what they leave out is the framework: routing, request objects, middleware.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from api_common.drain import AsgiDrain, WsgiDrain
from api_common.errors import ApiError, http_error, internal_error
from api_common.validation import check_content_type, check_declared_size, too_large

log = logging.getLogger(__name__)
Answer = tuple[int, Any, dict[str, str]]  # status, JSON body, extra headers
Handler = Callable[[dict[str, str], bytes, dict[str, str]], Answer]
AsyncHandler = Callable[[dict[str, str], bytes, dict[str, str]], Awaitable[Answer]]


def ok(payload: Any, headers: dict[str, str] | None = None) -> Answer:
    return 200, payload, headers or {}


def encoder(json_library: str) -> Callable[[Any], bytes]:
    if json_library == "orjson":
        import orjson

        return orjson.dumps
    return lambda payload: json.dumps(payload).encode()


def _route(routes: dict[tuple[str, str], Any], method: str, path: str, has_body: bool) -> Any:
    handler = routes.get((method, path))
    if handler is not None:
        return handler
    allowed = sorted(m for m, p in routes if p == path)
    if allowed:
        raise http_error(405, f"method {method} not allowed on {path}", has_body, {"Allow": ", ".join(allowed)})
    raise http_error(404, f"no route {path}", body_unread=has_body)


def _error(exc: Exception) -> Answer:
    if isinstance(exc, ApiError):
        return exc.status, exc.body(), exc.headers
    log.exception("unhandled error", exc_info=exc)
    err = internal_error()
    return err.status, err.body(), err.headers


def _head(status: int, data: bytes, headers: dict[str, str]) -> list[tuple[str, str]]:
    return [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *headers.items()]


def wsgi(routes: dict[tuple[str, str], Handler], max_body_bytes: int, json_library: str = "stdlib", drain: bool = True):
    """A WSGI app serving ``routes``, inside the drain of unread bodies unless ``drain`` is off."""
    encode = encoder(json_library)

    def app(environ, start_response):
        try:
            has_body = environ.get("CONTENT_LENGTH", "0") not in ("", "0") or "HTTP_TRANSFER_ENCODING" in environ
            handler = _route(routes, environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), has_body)
            raw = b""
            if environ["REQUEST_METHOD"] == "POST":
                check_content_type(environ.get("CONTENT_TYPE"))
                declared = environ.get("CONTENT_LENGTH") or ""
                length = int(declared) if declared.isdigit() else None
                check_declared_size(length, max_body_bytes)
                # PEP 3333: never read past CONTENT_LENGTH (a plain server's input is the socket itself, and
                # reading past the body would wait on a keep-alive connection).
                raw = environ["wsgi.input"].read(max_body_bytes + 1 if length is None else length)
                if len(raw) > max_body_bytes:
                    raise too_large(max_body_bytes)
            sent = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
            status, payload, headers = handler(dict(parse_qsl(environ.get("QUERY_STRING", ""))), raw, sent)
        except Exception as exc:
            status, payload, headers = _error(exc)
        data = encode(payload)
        start_response(f"{status} {HTTPStatus(status).phrase}", _head(status, data, headers))
        return [data]

    return WsgiDrain(app) if drain else app


def asgi(
    routes: dict[tuple[str, str], AsyncHandler], max_body_bytes: int, json_library: str = "stdlib",
    startup: Callable[[], Awaitable[None]] | None = None, shutdown: Callable[[], Awaitable[None]] | None = None,
    drain: bool = True,
):  # fmt: skip
    """An ASGI app serving ``routes``, with ``startup`` and ``shutdown`` run by the server's lifespan, inside the
    drain of unread bodies unless ``drain`` is off."""
    encode = encoder(json_library)

    async def lifespan(receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if startup:
                    await startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if shutdown:
                    await shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def read_body(scope, receive) -> bytes:
        headers = dict(scope["headers"])
        check_content_type(headers.get(b"content-type", b"").decode("latin-1") or None)
        declared = headers.get(b"content-length", b"").decode("latin-1")
        check_declared_size(int(declared) if declared.isdigit() else None, max_body_bytes)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_body_bytes:
                raise too_large(max_body_bytes)
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def app(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return await lifespan(receive, send)
        try:
            names = {name for name, value in scope["headers"] if name != b"content-length" or value != b"0"}
            has_body = b"content-length" in names or b"transfer-encoding" in names
            handler = _route(routes, scope["method"], scope["path"], has_body)
            raw = await read_body(scope, receive) if scope["method"] == "POST" else b""
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            sent = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            status, payload, headers = await handler(query, raw, sent)
        except Exception as exc:
            status, payload, headers = _error(exc)
        data = encode(payload)
        head = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in _head(status, data, headers)]
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": data})

    return AsgiDrain(app) if drain else app
