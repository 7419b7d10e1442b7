"""FastAPI side of the shared conventions: JSON errors everywhere and a capped body reader."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter
from starlette.exceptions import HTTPException as StarletteHTTPException

from api_common.errors import ApiError, http_error, internal_error
from api_common.validation import check_content_type, check_declared_size, parse_body, too_large

T = TypeVar("T")
log = logging.getLogger(__name__)


def install_error_handlers(app: FastAPI) -> None:
    """Every error, ours or Starlette's, leaves as ``{"error", "message"}`` JSON."""

    def respond(err: ApiError) -> JSONResponse:
        return JSONResponse(err.body(), status_code=err.status)

    async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return respond(exc)

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return respond(http_error(exc.status_code, str(exc.detail)))

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        msg = errors[0]["msg"] if errors else "invalid request"
        details = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]} for e in errors]
        return respond(ApiError(422, "validation_error", msg, details))

    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return respond(internal_error())

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_unexpected)


async def read_json_body(request: Request, adapter: TypeAdapter[T], max_bytes: int) -> T:
    """Check type and size before reading, stop reading past the cap, then parse and validate."""
    check_content_type(request.headers.get("content-type"))
    declared = request.headers.get("content-length")
    check_declared_size(int(declared) if declared and declared.isdigit() else None, max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large(max_bytes)
        chunks.append(chunk)
    return parse_body(b"".join(chunks), adapter, max_bytes)


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
