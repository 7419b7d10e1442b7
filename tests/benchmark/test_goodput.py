"""Goodput figures from a probe's per-query log, tested by simulation (benchmark/goodput.py)."""

from __future__ import annotations

import random

import pytest

from benchmark import goodput

BOUND = 250.0


def _log(n: int, seconds: float, latency, status):
    rng = random.Random(7)
    sent = sorted(rng.uniform(0, seconds) for _ in range(n))
    return sent, [latency(i, rng) for i in range(n)], [status(i) for i in range(n)]


def test_goodput_counts_answers_within_the_bound_per_second():
    # 1,000 queries over 10 s: a tenth refused, a twentieth failed, the rest served, a fifth of those late.
    def status(i):
        return 503 if i % 10 == 0 else 0 if i % 20 == 1 else 200

    def latency(i, rng):
        return 400.0 if i % 5 == 2 else rng.uniform(40, 200)

    p = goodput.point("async", "async", "delay", 2.0, 100.0, BOUND, *_log(1000, 10.0, latency, status))
    assert (p.sent, p.refused, p.failed, p.sent - p.refused - p.failed) == (1000, 100, 50, p.served)
    late = sum(1 for i in range(1000) if status(i) == 200 and i % 5 == 2)
    assert p.good == p.served - late
    assert p.goodput_qps == pytest.approx(p.good / 10.0, rel=0.01)
    assert p.served_p99_ms == 400.0  # the late fifth sets the served tail
    assert p.share(p.refused) == pytest.approx(0.1)


def test_a_refusal_is_never_goodput_and_a_short_probe_has_no_p99():
    p = goodput.point("sync", "sync", "fixed", 3.0, 150.0, BOUND, *_log(50, 1.0, lambda i, r: 10.0, lambda i: 503))
    assert (p.good, p.served, p.refused, p.served_p99_ms) == (0, 0, 50, None)
    assert p.goodput_qps == 0.0


def test_the_verdict_holds_delay_to_ninety_percent_and_the_bound():
    summary = {"bound_ms": BOUND, "capacity": {"async": {"capacity_qps": 100.0}}, "points": [
        {"variant": "async", "policy": "delay", "multiple": 2.0, "goodput_qps": 95.0, "served_p99_ms": 200.0},
        {"variant": "async", "policy": "delay", "multiple": 3.0, "goodput_qps": 80.0, "served_p99_ms": 200.0},
        {"variant": "async", "policy": "off", "multiple": 3.0, "goodput_qps": 1.0, "served_p99_ms": 9000.0},
    ]}  # fmt: skip
    (line,) = goodput.verdicts(summary)
    assert "x2: 95% of capacity, served p99 200 ms (met)" in line
    assert "x3: 80% of capacity, served p99 200 ms (NOT met)" in line
