"""Read and discard the part of a request body the app left unread, before its answer leaves.

An app that refuses a request early (a 413 for a body over the cap, a 415, a 503 from the overload
policy, a 404 or 405) has not read the body. If the server then closes the connection with those bytes
still in the kernel's receive queue, the kernel answers them with a reset, and a client still sending,
or slow to read, loses the answer it was owed: seen here as a 10 MB body to gunicorn's sync worker
ending after ``100 Continue`` with no status, and as 1 in 3 kept-alive 400 KB bodies to a gthread worker
ending in "server disconnected". nginx avoids it by closing lingeringly; the servers the lab runs do
not, so both twins and the bare apps drain here, bounded: past ``DRAIN_BYTES`` (or ``DRAIN_S`` for an
event loop) the rest is left, and such a client may still see a reset.

Framework-free: a WSGI and an ASGI middleware, the outermost layer of every service.
"""

from __future__ import annotations

import asyncio

DRAIN_BYTES = 16 * 1024 * 1024  # over the tests' 10 MB; a drain costs about 10 ms per 10 MB on loopback
DRAIN_S = 5.0  # an ASGI drain's time bound: a client trickling its body does not hold the task longer
CHUNK = 64 * 1024


class _Counted:
    """A WSGI input stream that counts what the app read from it."""

    def __init__(self, stream):
        self.stream = stream
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size) if size is not None and size >= 0 else self.stream.read()
        self.read_bytes += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self.stream.readline(size)
        self.read_bytes += len(data)
        return data

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines = self.stream.readlines(hint)
        self.read_bytes += sum(map(len, lines))
        return lines

    def __iter__(self):
        return iter(self.readline, b"")


# A server that reads the whole body before the app runs needs no drain, and waitress enforces PEP 3333's ban on
# hop-by-hop headers (a 500 for the lab's ``Connection: close`` after an unread body, api_common.errors.closing):
# its connection stays in step without it.
BUFFERING_SERVERS = ("waitress",)


def _without_hop_by_hop(start_response):
    def start(status, headers, exc_info=None):
        return start_response(status, [(k, v) for k, v in headers if k.lower() != "connection"], exc_info)

    return start


class WsgiDrain:
    """WSGI middleware: after the app returns (a WSGI server writes nothing before that), read the rest of
    the body: up to ``CONTENT_LENGTH``, or to its end when the server says the input is terminated
    (PEP 3333 forbids reading past the length: a plain server's input is the socket itself)."""

    def __init__(self, app, limit: int = DRAIN_BYTES):
        self.app = app
        self.limit = limit

    def __call__(self, environ, start_response):
        if environ.get("SERVER_SOFTWARE", "").startswith(BUFFERING_SERVERS):
            return self.app(environ, _without_hop_by_hop(start_response))
        declared = environ.get("CONTENT_LENGTH") or ""
        length = int(declared) if declared.isdigit() else None
        terminated = bool(environ.get("wsgi.input_terminated"))
        if not length and not (terminated and "HTTP_TRANSFER_ENCODING" in environ):
            return self.app(environ, start_response)
        stream = environ["wsgi.input"] = _Counted(environ["wsgi.input"])
        result = self.app(environ, start_response)
        left = self.limit if length is None else min(length - stream.read_bytes, self.limit)
        try:
            while left > 0 and (chunk := stream.read(min(CHUNK, left))):
                left -= len(chunk)
        except OSError:  # the client went away: nothing left to answer
            pass
        return result


class _Body:
    """Where a request's body stands; ``receive`` is the app's, a bound method whose object keeps the
    server's ``transport`` reachable, as uvicorn's own ``receive`` does (the overload policy reads the
    socket through it: ``fastapi_glue.transport_of``)."""

    def __init__(self, scope, receive):
        headers = dict(scope["headers"])
        self.done = headers.get(b"content-length", b"0") == b"0" and b"transfer-encoding" not in headers
        self.waits_for_continue = headers.get(b"expect", b"").lower() == b"100-continue"
        self.asked = False
        self._receive = receive
        self.transport = getattr(getattr(receive, "__self__", None), "transport", None)

    async def receive(self) -> dict:
        self.asked = True
        message = await self._receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            self.done = True
        return message


class AsgiDrain:
    """ASGI middleware: when the answer starts while the body is still arriving, receive the rest first.

    A request that asked ``Expect: 100-continue`` and whose body the app never asked for is left alone:
    the server has not invited the body (uvicorn sends ``100 Continue`` on the first ``receive``), so the
    client learns the answer without sending it.
    """

    def __init__(self, app, limit: int = DRAIN_BYTES, timeout_s: float = DRAIN_S):
        self.app = app
        self.limit = limit
        self.timeout_s = timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        body = _Body(scope, receive)

        async def draining(message: dict) -> None:
            if message["type"] == "http.response.start" and not body.done:
                body.done = True
                if body.asked or not body.waits_for_continue:
                    await self._drain(receive)
            await send(message)

        await self.app(scope, body.receive, draining)

    async def _drain(self, receive) -> None:
        left = self.limit
        try:
            async with asyncio.timeout(self.timeout_s):
                while left > 0:
                    message = await receive()
                    if message["type"] != "http.request":
                        return
                    left -= len(message.get("body", b""))
                    if not message.get("more_body", False):
                        return
        except TimeoutError:
            pass
