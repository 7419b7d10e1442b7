"""Deadlines end to end: a request's remaining budget bounds the calls made for it, and travels with them.

The scoring handler starts each request with a budget (its setting, or less if the caller sent one in
``HEADER``); every model call it makes is bounded by what is left and carries the rest in ``HEADER``. A
model API that receives it drops the work whose caller has given up: before starting it (counting the
time the request waited to be started, read from the kernel where the server gives the socket) and in
the batching queue (an item whose caller stopped waiting is left out of its batch). The job queue's
jobs carry their own deadline already (``api_common/jobqueue.py``).

The header is the one Envoy sets on the requests it forwards for the same purpose
(``x-envoy-expected-rq-timeout-ms``, milliseconds, relative), so a chain behind Envoy reads its budget
unchanged; relative, so no clocks need to agree.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from api_common.errors import ApiError

HEADER = "X-Envoy-Expected-Rq-Timeout-Ms"


@dataclass(frozen=True)
class Deadline:
    at: float  # time.monotonic()

    @classmethod
    def after(cls, budget_s: float, waited_s: float = 0.0) -> Deadline:
        """The deadline of a request that arrived ``waited_s`` ago with ``budget_s`` to spend."""
        return cls(time.monotonic() - waited_s + budget_s)

    def remaining_s(self) -> float:
        return self.at - time.monotonic()

    def expired(self) -> bool:
        return self.remaining_s() <= 0

    def bound(self, timeout_s: float) -> float:
        """A call's timeout: its own, or what is left of the budget if that is less (never negative)."""
        return max(0.0, min(timeout_s, self.remaining_s()))

    def headers(self) -> dict[str, str]:
        return {HEADER: str(max(0, math.floor(self.remaining_s() * 1000)))}


def budget_s(value: str | None) -> float | None:
    """The budget a caller sent in ``HEADER``, in seconds; None if it sent none; a 400 if it is not a number."""
    if value is None:
        return None
    try:
        ms = float(value)
    except ValueError:
        ms = math.nan
    if not math.isfinite(ms) or ms < 0:
        raise ApiError(400, "invalid_header", f"{HEADER} must be a number of milliseconds, got {value[:32]!r}")
    return ms / 1000


def of(header: str | None, default_s: float | None, waited_s: float = 0.0) -> Deadline | None:
    """A request's deadline: the caller's budget or ``default_s``, whichever is less (None if neither)."""
    sent = budget_s(header)
    budgets = [b for b in (sent, default_s) if b is not None]
    return Deadline.after(min(budgets), waited_s) if budgets else None


def exceeded() -> ApiError:
    return ApiError(504, "deadline_exceeded", "the caller's budget ran out before this work started")
