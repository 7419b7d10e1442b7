"""The overload policy: a bound on the requests one worker process holds at once, past it a fast 503.

Without a bound, an overloaded async worker accepts every request and shares its CPU among all of them,
so every answer gets slower together until clients time out. With ``max_in_flight`` set, a worker
that already holds that many predictions answers the next one at once with 503 and ``Retry-After``;
the health check, the index and ``/metrics`` (GET) are never refused. Framework-free: both twins'
glue call it.
"""

from __future__ import annotations

import threading

from api_common.errors import ApiError

RETRY_AFTER_S = 1


class InFlightLimit:
    """Counts the predictions in progress in this worker process (threads and coroutines alike)."""

    def __init__(self, limit: int | None):
        self.limit = limit
        self.count = 0
        self._lock = threading.Lock()

    def enter(self, method: str) -> bool:
        """Admit one request: True when it was counted (call ``leave`` after it), False when it is not
        counted (no limit, or not a POST); raises the 503 when this worker is full."""
        if self.limit is None or method != "POST":
            return False
        with self._lock:
            if self.count >= self.limit:
                raise overloaded(self.limit)
            self.count += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.count -= 1


def overloaded(limit: int) -> ApiError:
    message = f"this worker already holds {limit} requests; retry after {RETRY_AFTER_S} s"
    return ApiError(503, "overloaded", message, headers={"Retry-After": str(RETRY_AFTER_S)})
