"""The drain reads what an early answer left unread, within its bound (servers: tests/integration/test_bodies.py)."""

from __future__ import annotations

import asyncio
import io

from api_common.drain import AsgiDrain, WsgiDrain


def _refuse_wsgi(environ, start_response):
    start_response("413 Payload Too Large", [("Content-Type", "application/json")])
    return [b"{}"]


def _read_some_wsgi(environ, start_response):
    environ["wsgi.input"].read(10)
    return _refuse_wsgi(environ, start_response)


def test_wsgi_reads_the_rest_up_to_the_declared_length_and_no_further():
    stream = io.BytesIO(b"x" * 1000 + b"NEXT REQUEST")
    environ = {"CONTENT_LENGTH": "1000", "wsgi.input": stream}
    assert WsgiDrain(_read_some_wsgi)(environ, lambda *a: None) == [b"{}"]
    assert stream.read() == b"NEXT REQUEST"  # a kept-alive connection's next request is left alone


def test_wsgi_drain_stops_at_its_bound():
    stream = io.BytesIO(b"x" * 1000)
    WsgiDrain(_refuse_wsgi, limit=300)({"CONTENT_LENGTH": "1000", "wsgi.input": stream}, lambda *a: None)
    assert stream.tell() == 300


def test_wsgi_leaves_a_chunked_body_the_server_does_not_terminate():
    stream = io.BytesIO(b"x" * 100)
    WsgiDrain(_refuse_wsgi)({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": stream}, lambda *a: None)
    assert stream.tell() == 0  # reading could block on the socket itself
    environ = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True, "wsgi.input": stream}
    WsgiDrain(_refuse_wsgi)(environ, lambda *a: None)
    assert stream.tell() == 100


def _run_asgi(headers: dict[bytes, bytes], chunks: int, reads: int = 0, **kw) -> tuple[list[str], int]:
    """Events in order ("body" for each chunk received, "start" when the answer starts) and chunks left."""
    events: list[str] = []
    queue = [{"type": "http.request", "body": b"x" * 100, "more_body": i < chunks - 1} for i in range(chunks)]

    async def receive():
        events.append("body")
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            events.append("start")

    async def app(scope, receive, send):
        for _ in range(reads):
            await receive()
        await send({"type": "http.response.start", "status": 413, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    scope = {"type": "http", "headers": list(headers.items())}
    asyncio.run(AsgiDrain(app, **kw)(scope, receive, send))
    return events, len(queue)


def test_asgi_receives_the_rest_before_the_answer_starts():
    events, left = _run_asgi({b"content-length": b"500"}, chunks=5, reads=1)
    assert (events, left) == (["body"] * 5 + ["start"], 0)


def test_asgi_drain_stops_at_its_bound():
    _, left = _run_asgi({b"content-length": b"1000"}, chunks=10, limit=300)
    assert left == 7


def test_asgi_does_not_invite_a_body_the_client_is_holding_back():
    events, left = _run_asgi({b"content-length": b"500", b"expect": b"100-continue"}, chunks=5)
    assert (events, left) == (["start"], 5)


def test_asgi_never_waits_when_there_is_no_body_or_it_was_all_read():
    assert _run_asgi({}, chunks=1)[0] == ["start"]
    assert _run_asgi({b"content-length": b"100"}, chunks=1, reads=1)[0] == ["body", "start"]
