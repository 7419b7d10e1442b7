"""The lab's own layers, each measured in process: what one layer adds to one request's CPU in a tier's app.

A stack's CPU per request moves by 10-15% from one hold to the next on a shared machine (lab ablation's rounds), far
more than a layer that costs 1-2%: the stack-level walk cannot resolve such a layer, only bound it. Here each layer
is timed where it runs, in the app itself, driven in this process with no server and no network: the chain's model
tier app (a model that answers at once) with every layer on, against the same app with that one layer off, both
driven alike, in repetitions that alternate the two, CPU time (``time.process_time``) per request. The model tier's
app carries the same middlewares as the scoring handler (``install_layers``); a scoring request passes through one
scoring app and ``n_models`` model apps, so a layer's cost per scoring request is counted as ``1 + n_models`` times
its cost here (an upper figure for the scoring-only layers, timed on their own functions).
"""

from __future__ import annotations

import asyncio
import importlib
import io
import json
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from api_common.contract import predict_path
from api_common.deadline import HEADER

BODY = json.dumps([5.1, 3.5, 1.4, 0.2, 1.0, 2.0, 3.0, 4.0]).encode()
REQUESTS = 1000
REPEATS = 5
WARM = 200
LAYERS = {  # the lab's layers a tier's app carries, and the settings that turn each off
    "metrics": {"metrics": False},
    "profiling": {"profiling_hook": False},
    "admission": {"admission": "off"},  # the scoring handler's policy, timed on the model app with it on
    "drain": {"drain": False},
}
ON = {"admission": "delay"}  # every layer on, as in the scoring handler


@dataclass(frozen=True)
class LayerCost:
    layer: str
    us: float  # CPU microseconds it adds to one app request (median over the repetitions' paired differences)
    low: float  # the repetitions' spread: the lowest and highest paired difference
    high: float
    base_us: float  # one app request with every layer on
    per_scoring_request_us: float  # ``us`` times the app requests a scoring request makes (1 + n_models)


def _asgi_driver(app, path: str) -> Callable[[int], float]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"model=model-1", "root_path": "",
             "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(BODY)).encode()), (HEADER.lower().encode(), b"900")],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}  # fmt: skip
    loop = asyncio.new_event_loop()
    client, conn = _connection()

    class Cycle:
        """As uvicorn's request cycle: ``receive`` a bound method whose object holds the transport, whose socket the
        overload policy reads each request's wait from (a real loopback TCP connection, one byte sent a request)."""

        transport = _Transport(conn)

        def __init__(self):
            self.delivered = False

        async def receive(self):
            if not self.delivered:
                self.delivered = True
                return {"type": "http.request", "body": BODY, "more_body": False}
            await asyncio.sleep(3600)  # the client stays: an app that asks again waits (none does)

    async def one(statuses: list[int]) -> None:
        async def send(message):
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        client.send(b"x")
        await app(dict(scope), Cycle().receive, send)

    async def many(n: int) -> list[int]:
        statuses: list[int] = []
        for _ in range(n):
            await one(statuses)
        return statuses

    def drive(n: int) -> float:
        t0 = time.process_time()
        statuses = loop.run_until_complete(many(n))
        spent = time.process_time() - t0
        if set(statuses) != {200}:
            raise RuntimeError(f"the app answered {sorted(set(statuses))}, not 200")
        return spent / n

    return drive


class _Transport:
    def __init__(self, sock: socket.socket):
        self.sock = sock

    def get_extra_info(self, name: str):
        return self.sock if name == "socket" else None


def _connection() -> tuple[socket.socket, socket.socket]:
    """A loopback TCP connection (client, server side); kept for the process's life."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        conn, _ = server.accept()
    return client, conn


def _wsgi_driver(app, path: str) -> Callable[[int], float]:
    from werkzeug.test import EnvironBuilder

    base = EnvironBuilder(path=path, method="POST", data=BODY, content_type="application/json",
                          query_string="model=model-1", headers={HEADER: "900"}).get_environ()  # fmt: skip

    def drive(n: int) -> float:
        statuses = []

        def start_response(status, headers, exc_info=None):
            statuses.append(status)

        t0 = time.process_time()
        for _ in range(n):
            environ = dict(base)
            environ["wsgi.input"] = io.BytesIO(BODY)
            b"".join(app(environ, start_response))
        spent = time.process_time() - t0
        if {s[:3] for s in statuses} != {"200"}:
            raise RuntimeError(f"the app answered {sorted(set(statuses))}, not 200")
        return spent / n

    return drive


def _app(chain: str, overrides: dict[str, Any]):
    """The chain's model tier app, with a model that answers at once, and its driver."""
    from api_model.settings import ModelAsyncSettings, ModelSyncSettings

    settings_class = ModelAsyncSettings if chain == "async" else ModelSyncSettings
    settings = settings_class(latency_min_ms=0, latency_max_ms=0, **overrides)
    module, function = settings.framework().factory("model", settings.app_kind)
    app = getattr(importlib.import_module(module), function)(settings)

    driver = _asgi_driver if settings.app_kind == "asgi" else _wsgi_driver
    return driver(app, predict_path(chain))


def measure(chain: str, n_models: int = 2, requests: int = REQUESTS, repeats: int = REPEATS) -> list[LayerCost]:
    """Each lab layer's CPU per app request in ``chain``'s model tier app (its default framework), leave one out."""
    on = _app(chain, ON)
    offs = {layer: _app(chain, ON | off) for layer, off in LAYERS.items()}
    for drive in (on, *offs.values()):
        drive(WARM)
    base: list[float] = []
    diffs: dict[str, list[float]] = {layer: [] for layer in LAYERS}
    for _ in range(repeats):
        for layer, drive in offs.items():  # each pair back to back: the machine's drift hits both alike
            with_it, without = on(requests), drive(requests)
            base.append(with_it)
            diffs[layer].append(with_it - without)
    base_us = 1e6 * statistics.median(base)
    return [LayerCost(layer, 1e6 * statistics.median(d), 1e6 * min(d), 1e6 * max(d), base_us,
                      1e6 * statistics.median(d) * (1 + n_models)) for layer, d in diffs.items()]  # fmt: skip


def scoring_only_us(repeats: int = 20000) -> dict[str, float]:
    """The scoring-only layers' own functions, per scoring request, in CPU microseconds: the step clock and its
    Server-Timing header (and the step metrics, counted under metrics); the deadline read and sent on to each model
    call."""
    from api_common import deadline
    from api_common.metrics import Metrics
    from api_scoring import service
    from api_scoring.settings import ScoringAsyncSettings

    on = ScoringAsyncSettings(metrics=False)
    quiet = Metrics("scoring-async", enabled=False)

    def timing():
        t = service.timings(on)
        t.mark("models", t.mark("redis", t.start))
        service.timed(on, quiet, t)

    def deadlines():
        d = service.request_deadline(on, "900")
        for _ in range(on.n_models):
            d.headers()
            service.call_timeout(on, d)
            deadline.budget_s("850")  # the model tier's read of it

    out = {}
    for name, fn in (("timing", timing), ("deadlines", deadlines)):
        t0 = time.process_time()
        for _ in range(repeats):
            fn()
        out[name] = 1e6 * (time.process_time() - t0) / repeats
    return out


def as_dicts(costs: list[LayerCost]) -> list[dict[str, Any]]:
    return [asdict(c) for c in costs]
