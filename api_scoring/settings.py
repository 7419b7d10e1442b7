"""Settings of the scoring handlers (env prefixes SCORING_SYNC_ and SCORING_ASYNC_)."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import SettingsConfigDict

from api_common.contract import predict_path
from api_common.settings import ServiceSettings

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
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "features:"
    default_entity_id: str = "0"
    redis_timeout_s: float = 0.5
    model_url: str
    model_path: str
    n_models: int = 2
    model_timeout_s: float = 1.0
    model_connect_timeout_s: float = 0.5
    # Upper bound on concurrent connections to the model API from one worker process.
    model_max_connections: int = 512
    fanout: Fanout
    http_client: HttpClient = "shared"
    client_library: ClientLibrary = "httpx"
    redis_client: RedisClient = "pool"
    # Async handler only: call a blocking redis-py client inside the coroutine (the original lab did).
    redis_blocking: bool = False
    endpoint: Endpoint
    # How the models are called: over HTTP, or as jobs on the model tier's Redis stream (the job-queue
    # architecture, api_model/jobqueue.py), in the feature store's Redis.
    model_transport: Literal["http", "queue"] = "http"


class ScoringSyncSettings(ScoringSettings):
    model_config = SettingsConfigDict(env_prefix="SCORING_SYNC_")
    chain = "sync"
    app_kind = "wsgi"
    port: int = 5001
    server: str = "gunicorn"
    model_url: str = "http://127.0.0.1:5000"
    model_path: str = predict_path("sync")
    fanout: Fanout = "sequential"  # as the original lab did
    endpoint: Endpoint = "def"


class ScoringAsyncSettings(ScoringSettings):
    model_config = SettingsConfigDict(env_prefix="SCORING_ASYNC_")
    chain = "async"
    app_kind = "asgi"
    port: int = 8001
    server: str = "uvicorn"
    model_url: str = "http://127.0.0.1:8000"
    model_path: str = predict_path("async")
    fanout: Fanout = "concurrent"
    endpoint: Endpoint = "async"
    # An async worker admits every request and shares its CPU among them all: past capacity, every
    # answer slows together until clients time out (seen: one request at the 30 s client timeout at
    # twice the breaking point). 64 per worker keeps the served ones well under that, and is far above
    # what the worker holds at its capacity (about 10). See api_common/overload.py.
    max_in_flight: int | None = 64
