"""The scoring handlers' model clients against a server that closes a connection without answering, as nginx's old
workers do to their idle kept-alive connections on a reload: the call is sent once more, once."""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading

import pytest
import requests

from api_common.errors import ApiError
from api_scoring import clients_async, clients_sync, service
from api_scoring.settings import ScoringAsyncSettings, ScoringSyncSettings

ANSWER = b'{"detail": 0.25, "model": "model-1", "latency_ms": 0}'


def test_a_connection_closed_before_the_answer_is_told_apart_from_other_failures():
    wrapped = requests.ConnectionError(ConnectionError("Connection aborted.", http.client.RemoteDisconnected("x")))
    assert service.closed_before_answer(wrapped)  # requests and urllib3 keep the cause in args
    try:
        try:
            raise ConnectionResetError(104, "reset")
        except OSError as exc:
            raise RuntimeError("mapped") from exc
    except RuntimeError as outer:
        assert service.closed_before_answer(outer)
    assert not service.closed_before_answer(ConnectionRefusedError(111, "refused"))  # nobody there: not retried
    assert not service.closed_before_answer(TimeoutError())
    assert not service.closed_before_answer(None)


@pytest.fixture
def closing_server():
    """An HTTP server that closes the first ``close`` connections as soon as a request arrives on them, and
    answers the others (keeping them alive); counts the requests it read."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    state = {"close": 1, "requests": 0, "stop": False}

    def serve_one(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            while not state["stop"]:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                length = next(
                    int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length")
                )
                while len(rest) < length:
                    rest += conn.recv(65536)
                state["requests"] += 1
                if state["close"] > 0:
                    state["close"] -= 1
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    return  # closed with a reset, no answer
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(ANSWER)).encode() + b"\r\n\r\n" + ANSWER)  # fmt: skip

    def accept():
        while not state["stop"]:
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield server.getsockname()[1], state
    state["stop"] = True
    t.join(2)
    server.close()


def _settings(cls, port: int):
    return cls(model_url=f"http://127.0.0.1:{port}", model_path="/predict", n_models=1, model_timeout_s=2.0)


def test_the_sync_caller_sends_a_call_closed_under_it_once_more(closing_server):
    port, state = closing_server
    caller = clients_sync.ModelCaller(_settings(ScoringSyncSettings, port))
    try:
        assert caller.call("model-1", [1.0], None) == 0.25
        assert state["requests"] == 2
        state["close"] = 2  # closed twice: the second failure is the handler's 502
        with pytest.raises(ApiError) as err:
            caller.call("model-1", [1.0], None)
        assert err.value.status == 502 and state["requests"] == 4
    finally:
        caller.close()


@pytest.mark.parametrize("fanout", [clients_async.HttpxAiohttpModelFanout, clients_async.ModelFanout,
                                    clients_async.AiohttpModelFanout])  # fmt: skip
def test_the_async_fanouts_send_a_call_closed_under_them_once_more(closing_server, fanout):
    port, state = closing_server

    async def go():
        f = fanout(_settings(ScoringAsyncSettings, port))
        await f.start()
        try:
            assert await f.scores([1.0], None) == [0.25]
            assert state["requests"] == 2
            state["close"] = 2
            with pytest.raises(ApiError) as err:
                await f.scores([1.0], None)
            assert err.value.status == 502 and state["requests"] == 4
        finally:
            await f.close()

    asyncio.run(go())
