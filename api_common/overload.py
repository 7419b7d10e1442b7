"""The overload policy: which predictions a worker admits, and a fast 503 with ``Retry-After`` for the rest.

Three policies, ``*_ADMISSION``:

- ``off``: admit everything. An async worker then shares its CPU among all it holds, so past capacity every
  answer slows together; a gunicorn sync worker's queue (the listen backlog) grows without bound.
- ``fixed``: at most ``*_MAX_IN_FLIGHT`` predictions in one worker at once. It bounds memory, not latency,
  and it refuses a burst that a queue would drain in a few hundred milliseconds.
- ``delay``: a standing queue refused, a burst let through (CoDel's idea, Nichols and Jacobson 2012, as Meta's
  RPC servers use it: Maurer, "Fail at scale", ACM Queue 2015). Each answered request reports its delay, its
  time in the worker beyond the shortest such time lately; the queue *stands* while most delays of the last
  interval were over the target. See ``DelayAdmission``.

A request's wait before it started is read from the kernel where the server lets the app reach the request's
socket (gunicorn's ``sync``, ``gthread`` and ``gevent`` workers; uvicorn): ``TCP_INFO``'s ``last_data_recv``,
the time since its bytes arrived, which counts the listen backlog that no user-space timer can see. Elsewhere
an asyncio worker uses its event loop's lag (``LoopLag``); a WSGI server that gives no socket reports none.

GET requests (the health check, the index, ``/metrics``) are never refused. Framework-free: the twins'
glue calls it.
"""

from __future__ import annotations

import asyncio
import math
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from api_common.errors import ApiError

RETRY_AFTER_S = 1
Policy = Literal["off", "fixed", "delay"]


@dataclass(frozen=True)
class Ticket:
    """An admitted request: when it arrived, on the policy's clock (its wait to start counted in)."""

    arrived: float


class Admission:
    """Admits or refuses one worker's predictions; the base admits everything (``off``) and counts nothing."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock

    def enter(self, method: str, wait_s: float | None = None) -> Ticket | None:
        """Admit one request: a ticket to give back to ``leave`` once it is answered, or None when it is not
        counted; raises the 503 when it is refused. ``wait_s``: how long it waited to start, if known."""
        return None

    def leave(self, ticket: Ticket) -> None:
        pass

    def _ticket(self, wait_s: float | None) -> Ticket:
        return Ticket(self.clock() - (wait_s or 0.0))


class InFlightLimit(Admission):
    """``fixed``: counts the predictions in progress in this worker process (threads and coroutines alike)."""

    def __init__(self, limit: int | None, clock: Callable[[], float] = time.monotonic):
        super().__init__(clock)
        self.limit = limit
        self.count = 0
        self._lock = threading.Lock()

    def enter(self, method: str, wait_s: float | None = None) -> Ticket | None:
        if self.limit is None or method != "POST":
            return None
        with self._lock:
            if self.count >= self.limit:
                raise overloaded(f"this worker already holds {self.limit} requests")
            self.count += 1
        return self._ticket(wait_s)

    def leave(self, ticket: Ticket) -> None:
        with self._lock:
            self.count -= 1


class Codel:
    """The ``delay`` policy's decision, pure: given each request's delay and the time, is the queue standing?

    CoDel (Nichols and Jacobson) calls a queue standing when its *smallest* delay over an interval is over
    the target. That fits one first-come-first-served queue; in a worker that shares itself among requests
    (an event loop) one lucky request that met no one finishes at its service time even in an overload, and
    resets the clock (measured here: at 1.3x capacity the smallest delay of each second was 0-20 ms while
    the median was 250-440 ms). So the test here is on the median: the queue stands once more than half of
    the delays of the last whole interval were over the target, and it is cleared the same way.
    """

    def __init__(self, target_s: float, interval_s: float):
        self.target_s = target_s
        self.interval_s = interval_s
        self.window_start = -math.inf
        self.over = self.total = 0
        self.standing_now = False

    def observe(self, delay_s: float, now: float) -> None:
        if now - self.window_start >= self.interval_s:
            if self.total:
                self.standing_now = 2 * self.over > self.total
            elif now - self.window_start >= 2 * self.interval_s:
                self.standing_now = False  # a whole interval with nothing answered: nothing stands
            self.window_start, self.over, self.total = now, 0, 0
        self.total += 1
        self.over += delay_s > self.target_s

    def standing(self, now: float) -> bool:
        """Were most delays of the last whole interval over the target?"""
        if now - self.window_start >= 2 * self.interval_s:
            return False
        return self.standing_now


class ServiceFloor:
    """The shortest time in the worker a request took lately: its service time with no queue (as TCP Vegas
    and BBR take the minimum round trip), the lowest of the last two windows of ``window_s``."""

    def __init__(self, window_s: float = 10.0):
        self.window_s = window_s
        self.mins = [math.inf, math.inf]  # the current window's and the previous one's
        self.since = -math.inf

    def add(self, sojourn_s: float, now: float) -> float:
        """Record one request's time in the worker; return the floor."""
        if now - self.since > self.window_s:
            self.mins, self.since = [math.inf, self.mins[0]], now
        self.mins[0] = min(self.mins[0], sojourn_s)
        return min(self.mins)


class DelayAdmission(Admission):
    """``delay``: refuses a standing queue (``Codel``), and lets a burst through.

    Each answered request reports its delay (``finished``): its time in the worker, the wait before it
    started counted in, beyond the shortest such time lately (``ServiceFloor``), whatever kind of queue it
    met. Two kinds of worker meet a standing queue differently:

    - one that serves a request at a time, first come first served (a gunicorn ``sync`` worker), has its
      queue in front of it: while the queue stands, a request that waited over the target to start is
      refused;
    - an event loop (or gevent's greenlets) shares itself among every request it holds, so most of its
      queue is inside it: a request that started at once can still take ten times its service time. Its
      queue stands only if, besides, the worker has not been empty for an interval (bursts leave it empty
      between them). While it stands, a request is refused when the worker already holds ``standing_cap``
      (``*_MAX_IN_FLIGHT``); within an interval of being empty, when it holds twice the cap or
      ``DRAINED_CAP``, whichever is more; otherwise at the burst's ceiling, ``burst_cap``.

    In any state, a request that waited a whole interval to start is refused. Measured on the async chain,
    which caps and rules hold goodput past capacity and which refuse the original lab's bursts:
    doc/NOTEBOOK.md, "Why the async chain collapsed".
    """

    def __init__(self, target_s: float, interval_s: float, standing_cap: int | None = None,
                 burst_cap: int | None = None, event_loop: bool = False,
                 clock: Callable[[], float] = time.monotonic):  # fmt: skip
        super().__init__(clock)
        self.codel = Codel(target_s, interval_s)
        self.event_loop = event_loop
        self.standing_cap = standing_cap
        self.burst_cap = burst_cap
        self.floor = ServiceFloor()
        self.count = 0
        self.last_answer: float | None = None
        self.empty_at = -math.inf  # the last time a request found this worker holding nothing
        self._lock = threading.Lock()

    def finished(self, sojourn_s: float) -> None:
        """A request admitted by this worker was answered ``sojourn_s`` after it arrived."""
        with self._lock:
            now = self.clock()
            self.last_answer = now
            self.codel.observe(max(0.0, sojourn_s - self.floor.add(sojourn_s, now)), now)

    def enter(self, method: str, wait_s: float | None = None) -> Ticket | None:
        if method != "POST":
            return None
        wait = wait_s or 0.0
        with self._lock:
            now = self.clock()
            c = self.codel
            if self.last_answer is None:
                self.last_answer = now
            if self.count == 0:
                self.empty_at = now
            # Nothing answered for an interval while requests are held is the deepest standing queue of
            # all (a collapse answers nothing), not an idle worker.
            standing = c.standing(now) or (self.count > 0 and now - self.last_answer > c.interval_s)
            burst_cap = self.burst_cap
            if self.event_loop and now - self.empty_at <= c.interval_s:
                # A worker that held nothing within the interval is draining a burst, not standing in a queue
                # (Meta's test: the queue was empty lately). The original lab's users arrive 150 at once each
                # second: every one of them is delayed, and the worker is empty between the bursts. Such a
                # burst may hold twice the cap: an overload that has just drained is let in that far, no more.
                standing = False
                if self.standing_cap is not None:
                    burst_cap = min(burst_cap or math.inf, max(2 * self.standing_cap, DRAINED_CAP))
            # An event loop's requests queue inside it, so it refuses by its cap; a request that waited to
            # start is refused past the target only by a worker whose queue is in front of it. (Refusing an
            # event loop's waits over the target too, and holding its cap until the worker was empty, raised
            # goodput at 3x capacity but refused requests at 0.6x: the async capacity fell from about 550 to
            # 325 QPS. doc/FINDINGS.md, "Past capacity on four chains".)
            if wait > (c.target_s if standing and not self.event_loop else c.interval_s):
                why = f"it waited {wait * 1000:.0f} ms to start"
            elif standing and self.standing_cap is not None and self.count >= self.standing_cap:
                why = f"requests here have been delayed over {c.target_s * 1000:g} ms for {c.interval_s * 1000:g} ms"
            elif burst_cap is not None and self.count >= burst_cap:
                why = f"this worker already holds {burst_cap:g} requests"
            else:
                self.count += 1
                return Ticket(now - wait)
        raise overloaded(why)

    def leave(self, ticket: Ticket) -> None:
        with self._lock:
            self.count -= 1
        self.finished(self.clock() - ticket.arrived)


# What a worker that shares itself among its requests (an event loop, gevent's greenlets) holds while a queue
# stands, when its settings name no cap: Little's law at the async chain's capacity (about 280 a second per
# worker at about 0.1 s each: 28 held), as the async scoring handler's own MAX_IN_FLIGHT.
STANDING_CAP = 32
# What an event loop that was empty within the interval may hold: a burst just drained, let in that far and
# no more (the original lab's test sends 75 per worker at once, unevenly spread over two workers).
DRAINED_CAP = 128
# The ``delay`` policy's ceiling for a burst, per worker: far above the 75 a worker meets in the original
# lab's test (150 users at once, two workers), well under what would exhaust its memory or file handles.
BURST_CAP = 1024


def admission(policy: Policy, max_in_flight: int | None, target_ms: float, interval_ms: float,
              event_loop: bool = False) -> Admission:  # fmt: skip
    """The policy named by a service's settings (``event_loop``: its worker shares itself among the requests it
    holds, an asyncio loop or gevent's greenlets, so its queue is inside it)."""
    if policy == "fixed":
        return InFlightLimit(max_in_flight)
    if policy == "delay":
        cap = max_in_flight if max_in_flight is not None or not event_loop else STANDING_CAP
        return DelayAdmission(target_ms / 1000, interval_ms / 1000, cap, BURST_CAP, event_loop)
    return Admission()


def overloaded(why: str) -> ApiError:
    message = f"{why}; retry after {RETRY_AFTER_S} s"
    return ApiError(503, "overloaded", message, headers={"Retry-After": str(RETRY_AFTER_S)})


class LoopLag:
    """The lag of this thread's event loop: how late a timer set ``period_s`` ahead fires, sampled
    continuously by one task (started at the first call, inside the running loop)."""

    def __init__(self, period_s: float):
        self.period_s = period_s
        self.lag_s = 0.0
        self._task: asyncio.Task | None = None

    def current(self) -> float:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._sample())
        return self.lag_s

    async def _sample(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.period_s
            await asyncio.sleep(self.period_s)
            self.lag_s = max(0.0, loop.time() - due)


# struct tcp_info (linux/tcp.h): 8 one-byte fields, then 32-bit ones; tcpi_last_data_recv is the 12th of those,
# the milliseconds since data last arrived on the connection (at the kernel's tick, 1-4 ms).
_TCP_INFO_LEN = 104
_LAST_DATA_RECV_OFFSET = 8 + 4 * 11


def socket_wait_s(sock: socket.socket | None) -> float | None:
    """How long ago the last bytes of the request arrived on ``sock`` (Linux), or None."""
    if sock is None or not hasattr(socket, "TCP_INFO"):
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_LEN)
    except OSError:
        return None
    if len(info) < _LAST_DATA_RECV_OFFSET + 4:
        return None
    return struct.unpack_from("I", info, _LAST_DATA_RECV_OFFSET)[0] / 1000
