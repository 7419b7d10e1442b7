"""Non-blocking clients of the async scoring handler: model API fan-outs and feature readers.

One class per implementation, chosen by settings. Shared clients are opened inside the worker's
event loop (``start``) and closed at shutdown; the seed-faithful ones (a new HTTP client per
request, a blocking Redis client inside the handler, a new Redis connection per request) are
kept as deliberate variants so their cost can be measured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import httpx
import redis
import redis.asyncio as aredis

from api_common import jobqueue, protocols
from api_common.deadline import Deadline
from api_common.errors import ApiError
from api_scoring import service
from api_scoring.settings import ScoringSettings

# The widest httpx's own pool is allowed to grow (see ModelFanout.max_connections): at its capacity an
# async worker holds about 10 requests, 20 model calls.
HTTPX_MAX_CONNECTIONS = 64
REDIS_MAX_CONNECTIONS = 100  # redis-py's own default for one pool


async def bounded(calls: Awaitable[list[float]], deadline: Deadline | None) -> list[float]:
    """The model calls of one request, cut off when its budget runs out (the clients' own timeouts still
    bound each call; this bounds their sum, a wait for a connection included)."""
    if deadline is None:
        return await calls
    budget = deadline.remaining_s()
    try:
        async with asyncio.timeout(budget):
            return await calls
    except TimeoutError:
        raise service.model_timeout(max(budget, 0.0)) from None


class ModelFanout:
    """Calls the N models through one shared ``httpx.AsyncClient``, concurrently by default."""

    def __init__(self, settings: ScoringSettings):
        self.settings = settings
        self.url = settings.model_url.rstrip("/") + settings.model_path
        self.protocol = protocols.get(settings.model_protocol)
        self.names = service.model_names(settings)
        self.client: Any = None
        self.slots = asyncio.Semaphore(self.max_connections())

    def max_connections(self) -> int:
        # httpcore's pool does work quadratic in the connections it holds on every request it adds or
        # removes (connection_pool.py, _assign_requests_to_connections, httpcore 1.0.9), and it keeps every
        # connection a burst opened. So once a burst has grown the pool, every later request costs more CPU,
        # the chain falls behind and the pool grows further: the async chain's metastable collapse
        # (doc/NOTEBOOK.md, "Why the async chain collapsed"). With httpx's own pool, calls past
        # HTTPX_MAX_CONNECTIONS wait in this semaphore, an O(1) queue, and the pool never holds more.
        return min(self.settings.model_max_connections, HTTPX_MAX_CONNECTIONS)

    def _httpx(self) -> httpx.AsyncClient:
        s = self.settings
        n = self.max_connections()
        timeout = httpx.Timeout(s.model_timeout_s, connect=s.model_connect_timeout_s)
        return httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=n, max_keepalive_connections=n))

    async def start(self) -> None:
        self.client = self._httpx()

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    async def _post(self, client: Any, params: dict, body: Any, headers: dict) -> tuple[int, Any]:
        """One model call; sent once more if the server closed its connection before answering
        (``service.closed_before_answer``)."""
        try:
            return await self._post_once(client, params, body, headers)
        except ApiError as err:
            if not service.closed_before_answer(err.__cause__):
                raise
        # One turn of the event loop first: the pool's other connections the server closed at the same moment (nginx
        # closes all its idle ones on a reload) are seen closed and dropped, so the call goes out on a live one.
        await asyncio.sleep(0)
        return await self._post_once(client, params, body, headers)

    async def _post_once(self, client: Any, params: dict, body: Any, headers: dict) -> tuple[int, Any]:
        try:
            async with self.slots:
                resp = await client.post(self.url, params=params, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            # httpx-aiohttp 0.2 reports a refused connection, and one closed under it, as a ConnectTimeout; its cause
            # says which.
            if service.closed_before_answer(exc) or (
                isinstance(exc.__cause__, OSError) and not isinstance(exc.__cause__, TimeoutError)
            ):
                raise service.model_unreachable(exc.__cause__ or exc) from exc
            raise service.model_timeout(self.settings.model_timeout_s) from None
        except httpx.HTTPError as exc:
            raise service.model_unreachable(exc) from exc
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, None

    async def _call(self, client: Any, name: str, features: list[float], profile: str | None,
                    deadline: Deadline | None) -> float:  # fmt: skip
        params, body = service.model_request(self.protocol, name, features, profile)
        headers = deadline.headers() if deadline is not None else {}  # what is left, for the model API
        status, answer = await self._post(client, params, body, headers)
        return service.model_score(status, self.protocol.answer(answer))

    async def _fan_out(self, client: Any, features: list[float], profile: str | None,
                       deadline: Deadline | None) -> list[float]:  # fmt: skip
        if self.settings.fanout == "sequential":
            return [await self._call(client, name, features, profile, deadline) for name in self.names]
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._call(client, n, features, profile, deadline)) for n in self.names]
        except ExceptionGroup as eg:
            # One failed call cancels its siblings; report the first failure like the sync chain does.
            first = eg.exceptions[0]
            raise first if isinstance(first, ApiError) else service.model_unreachable(first) from None
        return [task.result() for task in tasks]

    async def scores(self, features: list[float], profile: str | None, deadline: Deadline | None = None) -> list[float]:
        return await bounded(self._fan_out(self.client, features, profile, deadline), deadline)


class PerRequestModelFanout(ModelFanout):
    """Seed-faithful: a new ``httpx.AsyncClient`` (pool, SSL context) built for every request."""

    async def start(self) -> None:
        pass

    async def scores(self, features: list[float], profile: str | None, deadline: Deadline | None = None) -> list[float]:
        async with self._httpx() as client:
            return await bounded(self._fan_out(client, features, profile, deadline), deadline)


class HttpxAiohttpModelFanout(ModelFanout):
    """httpx's API over aiohttp's transport (httpx-aiohttp): what some SDKs ship since httpx's own
    connection pool is slow under concurrency. Timeouts and errors arrive as httpx's. aiohttp's pool costs
    the same with many connections as with few, so the semaphore is as wide as the settings say."""

    def max_connections(self) -> int:
        return self.settings.model_max_connections

    def _httpx(self) -> httpx.AsyncClient:
        from httpx_aiohttp import HttpxAiohttpClient

        s = self.settings
        n = s.model_max_connections
        timeout = httpx.Timeout(s.model_timeout_s, connect=s.model_connect_timeout_s)
        return HttpxAiohttpClient(timeout=timeout, limits=httpx.Limits(max_connections=n, max_keepalive_connections=n))


class AiohttpModelFanout(ModelFanout):
    """The same shared-client fan-out with aiohttp as the HTTP client library."""

    async def start(self) -> None:
        import aiohttp

        s = self.settings
        self._aiohttp = aiohttp
        timeout = aiohttp.ClientTimeout(total=s.model_timeout_s, connect=s.model_connect_timeout_s)
        connector = aiohttp.TCPConnector(limit=s.model_max_connections)
        self.client = aiohttp.ClientSession(timeout=timeout, connector=connector)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()

    async def _post_once(self, client: Any, params: dict, body: Any, headers: dict) -> tuple[int, Any]:
        aiohttp = self._aiohttp
        try:
            async with client.post(self.url, params=params, json=body, headers=headers) as resp:
                try:
                    return resp.status, await resp.json(content_type=None)
                except ValueError:
                    return resp.status, None
        except TimeoutError:
            raise service.model_timeout(self.settings.model_timeout_s) from None
        except aiohttp.ClientError as exc:
            raise service.model_unreachable(exc) from exc


class FeatureReader:
    """Reads features through one ``redis.asyncio`` connection pool per worker process."""

    def __init__(self, settings: ScoringSettings):
        self.settings = settings
        self.client: Any = None

    def _client(self) -> aredis.Redis:
        t = self.settings.redis_timeout_s
        return aredis.Redis.from_url(self.settings.redis_url, socket_timeout=t, socket_connect_timeout=t)

    async def start(self) -> None:
        # redis-py 8's asyncio pool holds at most 100 connections and fails the 101st at once
        # (MaxConnectionsError: a 503 for every request of a burst past 100 in one worker, seen with 150 at
        # once); its blocking pool makes that request wait for a connection, up to the Redis timeout.
        t = self.settings.redis_timeout_s
        pool = aredis.BlockingConnectionPool.from_url(
            self.settings.redis_url, max_connections=REDIS_MAX_CONNECTIONS, timeout=t,
            socket_timeout=t, socket_connect_timeout=t,
        )  # fmt: skip
        self.client = aredis.Redis.from_pool(pool)  # the client owns the pool: aclose closes both

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    async def get(self, key: str) -> bytes | None:
        try:
            return await self.client.get(key)
        except redis.RedisError as exc:
            raise service.redis_unavailable(exc) from None


class PerRequestFeatureReader(FeatureReader):
    """Seed-faithful: a new Redis connection for every request, closed after it."""

    async def start(self) -> None:
        pass

    async def get(self, key: str) -> bytes | None:
        client = self._client()
        try:
            return await client.get(key)
        except redis.RedisError as exc:
            raise service.redis_unavailable(exc) from None
        finally:
            await client.aclose()


class BlockingFeatureReader(FeatureReader):
    """Seed-faithful: a blocking redis-py client called inside the async handler (stalls the loop)."""

    def _blocking(self) -> redis.Redis:
        t = self.settings.redis_timeout_s
        return redis.Redis.from_url(self.settings.redis_url, socket_timeout=t, socket_connect_timeout=t)

    async def start(self) -> None:
        if self.settings.redis_client == "pool":
            self.client = self._blocking()

    async def close(self) -> None:
        if self.client is not None:
            self.client.close()

    async def get(self, key: str) -> bytes | None:
        client = self.client or self._blocking()
        try:
            return client.get(key)  # blocks the event loop for the round trip, on purpose
        except redis.RedisError as exc:
            raise service.redis_unavailable(exc) from None
        finally:
            if client is not self.client:
                client.close()


def model_fanout(settings: ScoringSettings) -> ModelFanout | QueueFanout:
    if settings.model_transport == "queue":
        return QueueFanout(settings)
    if settings.http_client == "per_request":
        return PerRequestModelFanout(settings)
    if settings.client_library == "aiohttp":
        return AiohttpModelFanout(settings)
    if settings.client_library == "httpx-aiohttp":
        return HttpxAiohttpModelFanout(settings)
    return ModelFanout(settings)


def feature_reader(settings: ScoringSettings) -> FeatureReader:
    if settings.redis_blocking:
        return BlockingFeatureReader(settings)
    if settings.redis_client == "per_request":
        return PerRequestFeatureReader(settings)
    return FeatureReader(settings)


class QueueFanout:
    """The job-queue architecture, non-blocking: jobs on the model tier's Redis stream, answers on a reply list."""

    def __init__(self, settings: ScoringSettings):
        self.settings = settings
        self.names = service.model_names(settings)
        self.stream = jobqueue.stream(settings.model_url)
        self.client: Any = None

    async def start(self) -> None:
        t = self.settings.model_timeout_s
        # A blocking pop holds its connection and waits up to the model timeout: the socket waits longer.
        self.client = aredis.Redis.from_url(self.settings.redis_url, socket_timeout=t + 1, socket_connect_timeout=t)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    async def scores(self, features: list[float], profile: str | None, deadline: Deadline | None = None) -> list[float]:
        timeout = service.call_timeout(self.settings, deadline)  # the jobs carry it: a worker drops them past it
        request_id = jobqueue.new_request_id()
        key = jobqueue.reply_key(request_id)
        got: dict[str, float] = {}
        loop = asyncio.get_running_loop()
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                jobqueue.add_jobs(pipe, self.stream, request_id, self.names, features, timeout)
                await pipe.execute()
            deadline = loop.time() + timeout
            while len(got) < len(self.names):
                left = deadline - loop.time()
                popped = await self.client.blpop([key], timeout=left) if left > 0 else None
                if popped is None:
                    raise service.model_timeout(timeout)
                service.queued_score(got, popped[1])
        except redis.RedisError as exc:
            raise service.model_unreachable(exc) from None
        return [got[name] for name in self.names]
