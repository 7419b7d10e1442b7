"""Settings of the scoring handlers (env prefixes SCORING_SYNC_ and SCORING_ASYNC_)."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import SettingsConfigDict

from api_common.contract import predict_path
from api_common.settings import AsyncService, ServiceSettings, SyncService

PROXIED_OFFSET = 10_000  # behind a proxy, the handler at 15001 and 18001: the README's ports stay the proxy's
Fanout = Literal["sequential", "concurrent"]
# The default shares one client per worker process; "per_request" is the original lab's code path.
HttpClient = Literal["shared", "per_request"]
# The async handler's client to the model API; "httpx-aiohttp" is httpx over aiohttp's transport.
ClientLibrary = Literal["httpx", "aiohttp", "httpx-aiohttp"]
# "pool": one connection pool per worker process; "per_request": a new connection per request.
RedisClient = Literal["pool", "per_request"]
# How the predict view is written. FastAPI: "def" runs it in the thread pool, with blocking clients.
# Flask: "async" is an ``async def`` view, run by Flask in a new event loop per request.
Endpoint = Literal["async", "def"]


class ScoringSettings(ServiceSettings):
    tier = "scoring"
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "features:"
    default_entity_id: str = "0"
    # Features the store holds per entity (the stack wires REDIS_FEATURES_PER_ENTITY): a request's own are
    # capped so that the join fits the model's input.
    entity_features: int = 4
    redis_timeout_s: float = 0.5
    model_url: str
    model_path: str
    # How it asks the model tier (api_common/protocols.py): the lab's contract, or a model server's, as the
    # model tier's server says (wired by lab/stack.py).
    model_protocol: str = "lab"
    n_models: int = 2
    model_timeout_s: float = 1.0
    # A request's budget (deadlines end to end, api_common/deadline.py): its model calls are bounded by what
    # is left of it and are told what is left; a caller can send less in the header. None: the model timeout.
    request_budget_ms: float | None = None
    model_connect_timeout_s: float = 0.5
    # Two more of the lab's layers, switches as ServiceSettings' own: the Server-Timing header of each answer's step
    # times, and deadlines sent on to the model tier (off: each model call is bounded by its own timeout alone).
    server_timing: bool = True
    deadlines: bool = True
    # Upper bound on concurrent calls (and connections) to the model API from one worker process (httpx's
    # own pool is held to fewer: clients_async.HTTPX_MAX_CONNECTIONS).
    model_max_connections: int = 512
    fanout: Fanout
    http_client: HttpClient = "shared"
    client_library: ClientLibrary = "httpx"
    redis_client: RedisClient = "pool"
    # Async handler only: call a blocking redis-py client inside the coroutine (the original lab did).
    redis_blocking: bool = False
    endpoint: Endpoint
    # How the models are called: over HTTP, or as jobs on the model tier's Redis stream (the job-queue
    # architecture, api_common/jobqueue.py), in the feature store's Redis.
    model_transport: Literal["http", "queue"] = "http"
    # A buffering proxy in front of the handler (lab/proxy.py): nginx listens on ``port`` (the one clients use)
    # and the handler on loopback at ``app_port`` (None: ``port`` + PROXIED_OFFSET).
    proxy: Literal["none", "nginx"] = "none"
    app_port: int | None = None

    def bind_port(self) -> int:
        """Where the handler's own server listens."""
        return self.port if self.proxy == "none" else self.app_port or self.port + PROXIED_OFFSET


class ScoringSyncSettings(SyncService, ScoringSettings):
    model_config = SettingsConfigDict(env_prefix="SCORING_SYNC_")
    port: int = 5001
    model_url: str = "http://127.0.0.1:5000"
    model_path: str = predict_path("sync")
    fanout: Fanout = "sequential"  # as the original lab did
    endpoint: Endpoint = "def"
    # Past capacity the listen backlog grows without bound (p99 2 s at twice the breaking point); the delay
    # policy reads each request's wait in it from the kernel and refuses a standing queue. Its target is
    # the length of one request here (two 40-50 ms calls in a row): 20 ms refused waits the 250 ms bound
    # allows and cut the capacity from 45 QPS (41-48, policy off) to 31 (24-31); 100 ms gave 46 (43-50).
    admission: Literal["off", "fixed", "delay"] = "delay"
    admission_target_ms: float = 100.0


class ScoringAsyncSettings(AsyncService, ScoringSettings):
    model_config = SettingsConfigDict(env_prefix="SCORING_ASYNC_")
    port: int = 8001
    model_url: str = "http://127.0.0.1:8000"
    model_path: str = predict_path("async")
    fanout: Fanout = "concurrent"
    endpoint: Endpoint = "async"
    # aiohttp's own client. httpx's own pool collapsed this chain (ModelFanout's comment); httpx's API over aiohttp's
    # transport (httpx-aiohttp, the default until issue 35) cost 1.08 ms (0.68-1.48) of the chain's 5.38 ms of CPU a
    # request over aiohttp alone (lab ablation, 2026-12-05: doc/FINDINGS.md), the largest step of its waterfall.
    client_library: ClientLibrary = "aiohttp"
    # An async worker admits every request and shares its CPU among them all: past capacity, every answer
    # slows together until clients time out. A fixed count bounds memory, not latency, and refused the
    # bursts of the original lab's Locust test; the delay policy refuses only a standing queue.
    admission: Literal["off", "fixed", "delay"] = "delay"
    # The "fixed" policy's bound, and the "delay" policy's while a queue stands (api_common/overload.py).
    # Little's law: at its capacity a worker serves about 280 a second at about 0.1 s each, so it holds about
    # 28. Measured at twice capacity (lab goodput), the delay policy kept 37% of capacity as goodput with 64
    # and 80% with 32: every request held beyond that only waits longer behind the others.
    max_in_flight: int | None = 32
