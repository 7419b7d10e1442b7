"""One error shape for both chains: ``{"error": code, "message": text, "details": [...]}``."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error that reaches the client as a JSON body with an HTTP status."""

    def __init__(
        self, status: int, code: str, message: str, details: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ):  # fmt: skip
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


# Codes for HTTP errors raised by the frameworks themselves (routing, methods).
HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


def http_error(status: int, message: str, body_unread: bool = False, headers: dict[str, str] | None = None) -> ApiError:
    """Wrap a framework-level HTTP error (404, 405...) in the shared shape, keeping the headers it owes
    (a 405's ``Allow``, RFC 9110 section 15.5.6)."""
    kept = {k: v for k, v in (headers or {}).items() if k.lower() not in ("content-type", "content-length")}
    err = ApiError(status, HTTP_CODES.get(status, "http_error"), message, headers=kept)
    return closing(err) if body_unread else err


# An error answered before the request's body was read leaves that body on the connection: the server
# must close it (RFC 9112, section 9.3) and should say so, or a client that reuses the connection loses
# its next request. uvicorn drains a small body; granian closes the connection without a word, and the
# next request on it failed (107 of 3,000 mixed requests, about 1 in 12 of those after such an answer).
def closing(err: ApiError) -> ApiError:
    """``err``, answered with ``Connection: close``."""
    err.headers["Connection"] = "close"
    return err


def internal_error() -> ApiError:
    # Deliberately generic: no exception text or stack trace reaches the client.
    return ApiError(500, "internal_error", "internal server error")
