"""Is a service up? An HTTP health check, or a Redis PING."""

from __future__ import annotations

import httpx
import redis


def http_ok(url: str, timeout: float = 1.0, lab_json: bool = True) -> bool:
    """200 with the lab's ``{"status": "OK"}``; with ``lab_json`` false (a model server's own check), any 200."""
    try:
        resp = httpx.get(url, timeout=timeout)
        return resp.status_code == 200 and (not lab_json or resp.json().get("status") == "OK")
    except (httpx.HTTPError, ValueError):
        return False


def redis_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False
