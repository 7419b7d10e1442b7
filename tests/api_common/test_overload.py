"""The overload policies, pure: driven by a fake clock and simulated delays, no server."""

from __future__ import annotations

import socket
import time

import pytest

from api_common import overload
from api_common.errors import ApiError

TARGET_S, INTERVAL_S = 0.020, 0.5


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_codel_calls_a_queue_standing_only_after_an_interval_of_mostly_late_answers():
    c = overload.Codel(TARGET_S, INTERVAL_S)
    t = 0.0
    for _ in range(50):  # a quiet interval: nothing stands
        c.observe(0.002, t)
        t += 0.01
    assert not c.standing(t)
    for _ in range(60):  # most answers late for more than an interval
        c.observe(0.150, t)
        t += 0.01
    assert c.standing(t)
    for _ in range(60):  # drained: cleared at the next whole interval
        c.observe(0.001, t)
        t += 0.01
    assert not c.standing(t)


def test_codel_ignores_a_minority_of_late_answers_and_forgets_an_idle_queue():
    c = overload.Codel(TARGET_S, INTERVAL_S)
    for i in range(200):  # one answer in three late: a burst being drained, not a standing queue
        c.observe(0.150 if i % 3 == 0 else 0.005, i * 0.01)
    assert not c.standing(2.0)
    for i in range(100):
        c.observe(0.150, 2.0 + i * 0.01)
    assert c.standing(3.0)
    assert not c.standing(3.0 + 2 * INTERVAL_S)  # nothing answered for two intervals: nothing stands


def _delay(clock: Clock, cap: int, event_loop: bool) -> overload.DelayAdmission:
    return overload.DelayAdmission(TARGET_S, INTERVAL_S, cap, burst_cap=1000, event_loop=event_loop, clock=clock)


def test_delay_policy_lets_a_burst_through_and_caps_a_standing_queue():
    clock = Clock()
    policy = _delay(clock, cap=4, event_loop=True)
    # A burst of twice the cap at once, on a worker that has been quiet: all admitted (a drained worker
    # holds up to twice its cap).
    burst = [policy.enter("POST") for _ in range(2 * 4)]
    assert all(burst)
    for ticket in burst:
        policy.leave(ticket)
    # A standing queue: the worker holds 4 and never empties, while answers take 10x their 50 ms service
    # time for two intervals.
    held = [policy.enter("POST") for _ in range(4)]
    policy.finished(0.050)
    for _ in range(100):
        clock.now += 0.01
        policy.finished(0.5)
    with pytest.raises(ApiError) as refused:
        policy.enter("POST")
    assert all(held) and refused.value.status == 503 and refused.value.headers["Retry-After"] == "1"
    assert not policy.enter("GET")  # health checks and metrics are never refused, nor counted


def test_a_first_come_first_served_worker_refuses_by_the_wait_to_start():
    clock = Clock()
    policy = _delay(clock, cap=None, event_loop=False)
    ticket = policy.enter("POST", 0.2)
    assert ticket  # 200 ms waited, no standing queue: admitted (under an interval)
    policy.leave(ticket)
    with pytest.raises(ApiError):
        policy.enter("POST", 0.6)  # waited a whole interval: refused whatever the state
    policy.finished(0.05)
    for _ in range(100):
        clock.now += 0.01
        policy.finished(0.3)
    with pytest.raises(ApiError):
        policy.enter("POST", 0.05)  # standing: over the 20 ms target is refused
    assert policy.enter("POST", 0.005)


def test_simulated_overload_keeps_admitted_work_bounded():
    """A worker that shares itself (processor sharing: 200 requests a second at best, each 50 ms of work),
    offered three times that for 20 s: with the delay policy it holds at most its cap, stays busy, and
    answers within a cap's worth of shared work instead of a delay that grows with the backlog."""
    clock = Clock()
    cap, service_s, capacity_rps, dt = 16, 0.050, 200.0, 0.001
    policy = _delay(clock, cap=cap, event_loop=True)
    held: list[list] = []  # [work left, arrival, ticket] of each admitted request
    answered, refused, debt, worst = 0, 0, 0.0, 0.0
    for tick in range(20_000):
        clock.now = tick * dt
        debt += 3 * capacity_rps * dt
        while debt >= 1:
            debt -= 1
            try:
                ticket = policy.enter("POST")
            except ApiError:
                refused += 1
            else:
                held.append([service_s, clock.now, ticket])
        if held:
            share = dt * capacity_rps * service_s / len(held)
            for h in held:
                h[0] -= share
            for h in [h for h in held if h[0] <= 0]:
                held.remove(h)
                policy.leave(h[2])  # reports its time in the worker, clock.now - h[1]
                worst = max(worst, clock.now - h[1]) if tick > 2000 else worst
                answered += 1
    assert len(held) <= cap and policy.count == len(held)
    assert refused > answered  # two thirds of the offered load cannot be served
    assert answered / 20 > 0.9 * capacity_rps  # goodput near the capacity: refusals cost nothing here
    assert worst <= cap * service_s + 0.01  # the first interval's burst drained, then a bounded queue


def test_socket_wait_reads_the_time_since_the_last_bytes_arrived():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname())
    conn, _ = server.accept()
    try:
        client.sendall(b"x")
        time.sleep(0.2)
        waited = overload.socket_wait_s(conn)
        # The kernel counts in ticks (1-4 ms) from the byte's arrival; the margin is a busy machine's.
        assert waited is not None and 0.15 <= waited <= 0.2 + 1.0
        assert overload.socket_wait_s(None) is None
    finally:
        client.close()
        conn.close()
        server.close()
