"""Parse and validate a request body the same way in Flask and FastAPI."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from api_common.errors import ApiError, closing

T = TypeVar("T")


def check_content_type(content_type: str | None) -> None:
    """Accept ``application/json`` and ``application/*+json``; anything else is a 415."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return
    raise closing(
        ApiError(415, "unsupported_media_type", f"expected Content-Type application/json, got {media or 'none'!r}")
    )


def check_declared_size(content_length: int | None, max_bytes: int) -> None:
    """Reject a body announced as too large before reading any of it."""
    if content_length is not None and content_length > max_bytes:
        raise too_large(max_bytes)


def too_large(max_bytes: int) -> ApiError:
    return closing(ApiError(413, "payload_too_large", f"request body exceeds {max_bytes} bytes"))


async def read_json_stream(
    content_type: str | None, content_length: int | None, chunks: AsyncIterable[bytes], adapter: TypeAdapter[T],
    max_bytes: int, json_library: str = "stdlib",
) -> T:  # fmt: skip
    """An ASGI framework's body: type and size checked before reading, reading stopped past the cap, then parsed
    and validated as every other body is."""
    check_content_type(content_type)
    check_declared_size(content_length, max_bytes)
    received: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise too_large(max_bytes)
        received.append(chunk)
    return parse_body(b"".join(received), adapter, max_bytes, json_library)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} is not valid JSON")


def parse_body(raw: bytes, adapter: TypeAdapter[T], max_bytes: int, json_library: str = "stdlib") -> T:
    """Size-check, decode and validate ``raw``; every failure is an ``ApiError`` (4xx).

    With ``json_library="orjson"`` a body orjson accepts skips the standard library's parser; one it
    refuses (or a huge integer, a lone surrogate it is stricter about) takes the standard path below,
    so both libraries give every input the same answer and the same error.
    """
    if len(raw) > max_bytes:
        raise too_large(max_bytes)
    if json_library == "orjson":
        import orjson

        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            return _validate(data, adapter)
    if not raw.strip():
        raise ApiError(400, "invalid_json", "request body is empty: expected JSON")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_json", f"request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        # NaN/Infinity are not JSON; Python's parser would accept them, so refuse them here.
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}") from None
    return _validate(data, adapter)


def _validate(data: Any, adapter: TypeAdapter[T]) -> T:
    try:
        return adapter.validate_python(data, strict=True)
    except ValidationError as exc:
        details = [
            {"loc": [str(p) for p in err["loc"]], "msg": err["msg"], "type": err["type"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        first = details[0]
        where = ".".join(first["loc"]) or "body"
        raise ApiError(422, "validation_error", f"invalid request at {where}: {first['msg']}", details) from None
